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
v.addEventListener('ended', () => { R.ended = true; });
v.addEventListener('durationchange', () => { R.duration = v.duration; });
v.addEventListener('error', () => {
  R.fatal = 'video.error ' + (v.error && v.error.code + ' ' + v.error.message);
});

// The demo assets differ in colour: ad solid red 0xE01010, recap solid blue 0x1010E0,
// content testsrc2 (a colourful pattern whose mean is neither). 8x8 mean per channel.
function classify(r, g, b) {
  if (r > 150 && g < 80 && b < 80) return 'ad';
  if (b > 150 && r < 80 && g < 80) return 'recap';
  if (Math.max(r, g, b) < 30) return 'black';
  return 'content';
}
setInterval(() => {
  if (v.readyState < 2) return;
  ctx.drawImage(v, 0, 0, 8, 8);
  const d = ctx.getImageData(0, 0, 8, 8).data;
  let r = 0, g = 0, b = 0;
  for (let i = 0; i < d.length; i += 4) { r += d[i]; g += d[i + 1]; b += d[i + 2]; }
  R.samples.push([+v.currentTime.toFixed(3), classify(r / 64, g / 64, b / 64)]);
  R.maxTime = Math.max(R.maxTime, v.currentTime);
  if (R.startTime === null && v.currentTime > 0) R.startTime = v.currentTime;
  const playFor = +(q.get('playFor') || 0);
  if (playFor && R.startTime !== null && v.currentTime - R.startTime >= playFor) R.ended = true;
}, 100);

function startPlayback() {
  v.playbackRate = +(q.get('rate') || 4);
  v.play().catch(e => R.errors.push('play(): ' + e));
}
function wantsAudioSwitch() {
  return q.get('audio') && !R.switchedAudio && v.currentTime > SWITCH_AT;
}
function shortUrl(url) { return new URL(url, location.href).pathname; }
