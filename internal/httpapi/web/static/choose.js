// choosePlayer decides how the player page plays a channel. It is a pure
// function of what the browser offers, so that a test can run it on a
// table of cases (browser2_test.go):
//   mse        mpegts.js can play live MPEG-TS (Media Source Extensions)
//   nativeHLS  <video> plays HLS itself (canPlayType of the HLS type)
//   hls        the server offers HLS for this channel
//   forced     "hls" or "mpegts" from the page's ?player=, or ""
// It returns "mpegts", "hls" or "none". mpegts.js comes first where it
// works: it plays /watch about a second behind live, HLS several segments
// behind, and Chromium now answers canPlayType for HLS with "maybe" too.
// Native HLS is for browsers without MSE: Safari on iPhone.
'use strict';
window.fstreamChoosePlayer = function choosePlayer({mse, nativeHLS, hls, forced}) {
  if (forced === 'hls' && hls && nativeHLS) return 'hls';
  if (forced === 'mpegts' && mse) return 'mpegts';
  if (mse) return 'mpegts';
  if (hls && nativeHLS) return 'hls';
  return 'none';
};

// fstreamFeatures reports what this browser offers, for choosePlayer.
window.fstreamFeatures = function features(video) {
  return {
    mse: !!(window.mpegts && mpegts.getFeatureList().mseLivePlayback),
    nativeHLS: !!(video.canPlayType && video.canPlayType('application/vnd.apple.mpegurl') !== ''),
  };
};
