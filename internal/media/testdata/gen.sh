#!/bin/sh
# Regenerates the media fixtures of internal/media. Run from anywhere:
#   sh internal/media/testdata/gen.sh      (or: go generate ./internal/media)
# Needs ffmpeg with libx264 and libx265. Each stream is 2 s of 256x144 test
# pattern at 30 fps with a GOP of 15 frames, so 4 keyframes per fixture.
set -eu
cd "$(dirname "$0")"

src="-f lavfi -i testsrc2=size=256x144:rate=30"
tone="-f lavfi -i sine=frequency=440:sample_rate=48000"
x264="-c:v libx264 -preset veryfast -crf 30 -g 15"
x265="-c:v libx265 -preset veryfast -crf 30 -g 15 -x265-params log-level=error"
ff="ffmpeg -nostdin -v error -y"

# MPEG-TS with H.264 video and AAC audio.
$ff $src $tone -t 2 $x264 -c:a aac -b:a 32k -f mpegts h264.ts
# MPEG-TS with H.265 video (open GOP: CRA keyframes with RASL pictures).
$ff $src -t 2 $x265 -f mpegts h265.ts
# MPEG-TS with MPEG-2 video.
$ff $src -t 2 -c:v mpeg2video -q:v 25 -g 15 -f mpegts mpeg2.ts
# Raw H.264 Annex B, as the original tool's broadcaster sends it
# (libx264 repeats SPS/PPS before every IDR).
$ff $src -t 2 $x264 -f h264 h264.h264
# Raw H.265 Annex B (VPS/SPS/PPS before every IRAP; IDR first, then CRA).
$ff $src -t 2 $x265 -f hevc h265.h265
# Raw H.264 with open GOPs: after the first IDR, keyframes are I slices with
# a recovery point SEI, which are not safe join points.
$ff $src -t 2 $x264 -x264-params open-gop=1 -f h264 opengop.h264
