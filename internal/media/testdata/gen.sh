#!/bin/sh
# Regenerates the media fixtures of internal/media. Run from anywhere:
#   sh internal/media/testdata/gen.sh      (or: go generate ./internal/media)
# Needs ffmpeg with libx264, libx265, libmp3lame and libopus. Each video
# stream is 2 s of 256x144 test pattern at 30 fps with a GOP of 15 frames, so
# 4 keyframes per fixture; each audio-only one is 2 s of a 440 Hz tone.
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

# MPEG-4 part 2 video: keyframes only through random_access_indicator.
$ff $src -t 2 -c:v mpeg4 -q:v 31 -g 15 -f mpegts mpeg4.ts
# Audio-only MPEG-TS ("radio"), one per stream type the tracker joins on.
# AAC in ADTS (stream_type 0x0f); ffmpeg packs about 0.3 s into one PES.
$ff $tone -t 2 -c:a aac -b:a 32k -f mpegts aac.ts
# AAC in LATM (0x11), one PES per frame. ffmpeg sends the StreamMuxConfig a
# decoder needs every 20 frames, so only the PES that start with such a
# frame are join points.
$ff $tone -t 2 -c:a aac -b:a 32k -mpegts_flags latm -pes_payload_size 0 -f mpegts latm.ts
# MP2 (0x03), one PES per 24 ms frame: more PES than join points.
$ff $tone -t 2 -c:a mp2 -b:a 32k -pes_payload_size 0 -f mpegts mp2.ts
# MP3 (0x03 too: the frame header tells the layer).
$ff $tone -t 2 -c:a libmp3lame -b:a 32k -f mpegts mp3.ts
# AC-3 (0x81, registration "AC-3").
$ff $tone -t 2 -c:a ac3 -b:a 64k -f mpegts ac3.ts
# E-AC-3 as DVB sends it: private data (0x06) with an enhanced AC-3
# descriptor.
$ff $tone -t 2 -c:a eac3 -b:a 64k -mpegts_flags system_b -f mpegts eac3.ts
# Opus: private data (0x06) with registration "Opus".
$ff $tone -t 2 -c:a libopus -b:a 32k -f mpegts opus.ts
