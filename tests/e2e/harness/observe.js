// What the viewer saw, recorded in window.R for the Python side (tests/e2e/observe.py).
// Query parameters: src (manifest URL), rate (playbackRate, default 4), playFor (live:
// stop after this many seconds of playback), audio (a language to switch to once
// currentTime passes switchAt, default 12 s).
'use strict';
const q = new URLSearchParams(location.search);
const v = document.getElementById('v');
const ctx = document.getElementById('c').getContext('2d', {willReadFrequently: true});
const R = window.R = {
  player: '', errors: [], fatal: null, ended: false, maxTime: 0, startTime: null,
  samples: [], levels: [], audioTracks: [], subtitleTracks: [], audioSwitched: [],
  periods: [], frags: [], cueTags: [], switchedAudio: false, duration: null,
};
const SWITCH_AT = +(q.get('switchAt') || 12);
// A page whose player plays other sources in the same element (hls.js interstitials) sets
// these: where the viewer is on the presentation's timeline, and whether an `ended` is the
// presentation's own end (not an ad asset's).
let playhead = () => v.currentTime;
let isPresentationEnd = () => true;
v.addEventListener('ended', () => { if (isPresentationEnd()) R.ended = true; });
v.addEventListener('durationchange', () => { R.duration = v.duration; });
v.addEventListener('error', () => {
  R.fatal = 'video.error ' + (v.error && v.error.code + ' ' + v.error.message);
});

// The demo assets differ in colour: ad solid red 0xE01010, recap solid blue 0x1010E0,
// the pilot solid green 0x10E010, scene-north solid yellow 0xE0E010, scene-south solid
// magenta 0xE010E0, the live channel's spot solid orange 0xE08010, content testsrc2 (a
// colourful pattern whose mean is none of them).
// 8x8 mean per channel; the same thresholds as classify_colour in observe.py.
function classify(r, g, b) {
  const hi = c => c > 150, lo = c => c < 80, mid = c => c >= 80 && c <= 150;
  if (hi(r) && lo(g) && lo(b)) return 'ad';
  if (lo(r) && lo(g) && hi(b)) return 'recap';
  if (lo(r) && hi(g) && lo(b)) return 'pilot';
  if (hi(r) && hi(g) && lo(b)) return 'scene-north';
  if (hi(r) && lo(g) && hi(b)) return 'scene-south';
  if (hi(r) && mid(g) && lo(b)) return 'spot';
  if (Math.max(r, g, b) < 30) return 'black';
  return 'content';
}
setInterval(() => {
  if (v.readyState < 2) return;
  ctx.drawImage(v, 0, 0, 8, 8);
  const d = ctx.getImageData(0, 0, 8, 8).data;
  let r = 0, g = 0, b = 0;
  for (let i = 0; i < d.length; i += 4) { r += d[i]; g += d[i + 1]; b += d[i + 2]; }
  const t = playhead();
  R.samples.push([+t.toFixed(3), classify(r / 64, g / 64, b / 64)]);
  R.maxTime = Math.max(R.maxTime, t);
  if (R.startTime === null && t > 0) R.startTime = t;
  const playFor = +(q.get('playFor') || 0);
  if (playFor && R.startTime !== null && t - R.startTime >= playFor) R.ended = true;
  // dash.js can stop at the last Period's end without `ended` (its MediaSource not yet
  // ended): the viewer has seen it all once the element's clock reaches the duration.
  if (isFinite(v.duration) && v.currentTime >= v.duration - 0.05 && isPresentationEnd()) {
    R.ended = true;
  }
}, 100);

function startPlayback() {
  // A new source (an interstitial asset) resets playbackRate to defaultPlaybackRate (HTML
  // "media element load algorithm"), so set both.
  v.defaultPlaybackRate = v.playbackRate = +(q.get('rate') || 4);
  v.play().catch(e => R.errors.push({details: 'play:' + e.name, fatal: false, t: v.currentTime,
                                     url: ''}));
}
function wantsAudioSwitch() {
  return q.get('audio') && !R.switchedAudio && v.currentTime > SWITCH_AT;
}
function shortUrl(url) { return new URL(url, location.href).pathname; }
