"use strict";
// Plays the chosen stream through the edge and shows what the edge made of the origin's
// manifest: the VOD episode or the live channel. The choices travel as query parameters on
// the manifest URL: lang, device, sid, and when chosen last (history), choice.scene, len
// (session length) and choice.ads.
(() => {
  const $ = (id) => document.getElementById(id);
  const { origin, hls: hlsPath, dash: dashPath, liveHls, liveDash } = $("demo").dataset;
  const video = $("video");
  const NONE = "—";
  let stopPlayer = () => {};
  let run = 0; // answers that arrive after a newer Play are dropped

  $("sid").value = randomId();
  $("choices").addEventListener("submit", (event) => {
    event.preventDefault();
    play();
  });
  video.addEventListener("playing", () => setStatus("playing"));
  video.addEventListener("waiting", () => setStatus("buffering"));
  video.addEventListener("ended", () => setStatus("ended"));

  function randomId() {
    const bytes = crypto.getRandomValues(new Uint8Array(8));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function choices() {
    const format = document.querySelector("input[name=format]:checked").value;
    const lang = $("lang").value;
    const query = new URLSearchParams({ lang, device: $("device").value, sid: $("sid").value });
    const optional = { last: "last", scene: "choice.scene", len: "len", ads: "choice.ads" };
    for (const [id, name] of Object.entries(optional)) {
      if ($(id).value) query.set(name, $(id).value);
    }
    const live = document.querySelector("input[name=stream]:checked")?.value === "live";
    const paths = live ? [liveHls, liveDash] : [hlsPath, dashPath];
    const path = format === "hls" ? paths[0] : paths[1];
    return { format, lang, path, edgeUrl: `${location.origin}${path}?${query}` };
  }

  function play() {
    stopPlayer();
    stopPlayer = () => {};
    const current = ++run;
    const choice = choices();
    for (const id of ["last-manifest", "decision", "revision", "audio"]) $(id).textContent = NONE;
    $("manifest-url").textContent = choice.edgeUrl;
    setStatus("loading");
    showManifests(choice, current);
    try {
      stopPlayer = choice.format === "hls" ? playHls(choice) : playDash(choice);
    } catch (error) {
      setStatus(`error: ${error.message ?? error}`); // dash.js throws strings
    }
  }

  function playHls({ edgeUrl, lang }) {
    if (!window.Hls) throw new Error("hls.js did not load (see the notice above)");
    if (!Hls.isSupported()) throw new Error("this browser has no Media Source Extensions");
    const hls = new Hls({
      audioPreference: { lang },
      // Same-origin XHR: every response header is readable.
      xhrSetup(xhr, url) {
        if (isManifest(url)) {
          xhr.addEventListener("load", () => showHeaders(url, (name) => xhr.getResponseHeader(name)));
        }
      },
    });
    hls.on(Hls.Events.MANIFEST_PARSED, () => startPlayback());
    hls.on(Hls.Events.AUDIO_TRACK_SWITCHED, (_, { id }) => showAudio(hls.audioTracks[id]?.lang));
    hls.on(Hls.Events.ERROR, (_, data) => {
      if (data.fatal) setStatus(`error: ${data.type} ${data.details}`);
    });
    // The source loads once the media is attached: an interstitial pre-roll that takes the
    // video element before the primary's MediaSource opens leaves the primary stopped for
    // good in hls.js 1.7 (its loading is never restarted after the ad).
    hls.once(Hls.Events.MEDIA_ATTACHED, () => hls.loadSource(edgeUrl));
    hls.attachMedia(video);
    return () => hls.destroy();
  }

  function playDash({ edgeUrl, lang }) {
    if (!window.dashjs) throw new Error("dash.js did not load (see the notice above)");
    const player = dashjs.MediaPlayer().create();
    player.addResponseInterceptor(async (response) => {
      const url = response.request.url;
      if (isManifest(url)) showHeaders(url, (name) => response.headers?.[name.toLowerCase()]);
      return response;
    });
    player.initialize(); // the media settings below need an initialised player
    player.setInitialMediaSettingsFor("audio", { lang });
    const { events } = dashjs.MediaPlayer;
    player.on(events.PLAYBACK_STARTED, () => showAudio(player.getCurrentTrackFor("audio")?.lang));
    player.on(events.ERROR, ({ error }) => setStatus(`error: ${error?.message ?? error}`));
    player.setAutoPlay(true); // the video is muted
    player.attachView(video);
    player.attachSource(edgeUrl);
    return () => player.reset();
  }

  function startPlayback() {
    video.play().catch((error) => setStatus(`press play (${error.message})`));
  }

  function isManifest(url) {
    return /\.(m3u8|mpd)$/.test(new URL(url, location.href).pathname);
  }

  function showHeaders(url, header) {
    $("last-manifest").textContent = new URL(url, location.href).pathname;
    $("decision").textContent = header("X-Edge-Decision") || NONE;
    $("revision").textContent = header("X-Rules-Revision") || NONE;
  }

  function showAudio(lang) {
    $("audio").textContent = lang || NONE;
  }

  function setStatus(text) {
    $("status").textContent = text;
  }

  async function showManifests({ path, edgeUrl }, current) {
    const originUrl = `${origin}${path}`;
    const [originText, edgeText] = await Promise.all([fetchText(originUrl), fetchText(edgeUrl)]);
    if (current !== run) return;
    showText("origin", originUrl, originText, null);
    showText("edge", edgeUrl, edgeText, new Set(originText.split("\n")));
  }

  async function fetchText(url) {
    try {
      const response = await fetch(url, { cache: "no-store" });
      const text = await response.text();
      return response.ok ? text : `HTTP ${response.status}\n${text}`;
    } catch (error) {
      return `fetch failed: ${error.message}`;
    }
  }

  // Edge lines the origin's manifest does not have are highlighted.
  function showText(which, url, text, originLines) {
    $(`${which}-url`).textContent = url;
    const pane = $(`${which}-text`);
    pane.replaceChildren(
      ...text.replace(/\n$/, "").split("\n").map((line) => {
        const span = document.createElement("span");
        span.textContent = `${line}\n`;
        if (originLines && !originLines.has(line)) span.className = "added";
        return span;
      }),
    );
  }
})();
