#!/usr/bin/python3
"""A real RTSP server on loopback for the live-stream tests: serves an H.264 MP4 file as an endless,
live stream, like a camera.

It runs under Debian's own Python (``/usr/bin/python3``), which has GStreamer's RTSP server bindings
(``gir1.2-gst-rtsp-server-1.0``, ``python3-gi``; ``scripts/install-test-tools.sh`` installs them), as a
separate process:

    /usr/bin/python3 tests/support/rtsp_loop_server.py FILE [--port 0] [--path /clip ...]

Once listening it prints one line, ``READY rtsp://127.0.0.1:PORT/PATH``, and serves until SIGTERM.

A plain file pipeline in an RTSP media factory does not loop (seeking inside it fights the server's
own PLAY seeks). So the served media is a live ``appsrc``; for each client a separate pipeline demuxes
the file without re-encoding, paces the frames in real time on the media's clock, rewrites their
timestamps to keep increasing across loops, and seeks back to the start at the end of the file.
"""

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

NONE = Gst.CLOCK_TIME_NONE


class FileFeeder:
    """Pushes the file's H.264 access units into an appsrc, in real time, looping forever."""

    def __init__(self, path, appsrc):
        self.appsrc = appsrc
        self.stopped = False
        self.caps_set = False
        self.origin = None  # the first buffer's decode time in the file
        self.base = None  # the media's running time when the first buffer went out
        self.loop_shift = 0  # added to file times in the current pass
        self.pass_end = 0  # the latest end time seen in the current pass
        location = path.replace("\\", "\\\\").replace('"', '\\"')
        self.pipe = Gst.parse_launch(
            f'filesrc location="{location}" ! qtdemux name=d d.video_0 ! queue ! h264parse ! '
            "h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au ! "
            "appsink name=sink sync=false emit-signals=true max-buffers=4")
        self.pipe.get_by_name("sink").connect("new-sample", self.on_sample)
        bus = self.pipe.get_bus()
        bus.add_signal_watch()
        self.watch = bus.connect("message", self.on_message)

    def start(self):
        self.pipe.set_state(Gst.State.PLAYING)

    def stop(self):
        if not self.stopped:
            self.stopped = True
            bus = self.pipe.get_bus()
            bus.disconnect(self.watch)
            bus.remove_signal_watch()
            self.pipe.set_state(Gst.State.NULL)

    def on_message(self, _bus, message):
        if message.type == Gst.MessageType.EOS:  # the end of the file: the next pass continues the times
            self.loop_shift += self.pass_end - self.origin
            self.pass_end = 0
            self.pipe.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, 0)
        elif message.type == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            print("feeder error:", error.message, debug, file=sys.stderr, flush=True)
            self.stop()

    def on_sample(self, sink):
        try:
            return self.push(sink.emit("pull-sample"))
        except Exception as exc:  # a bug here must not leave the client hanging
            print("feeder exception:", repr(exc), file=sys.stderr, flush=True)
            return Gst.FlowReturn.ERROR

    def push(self, sample):
        if sample is None or self.stopped:
            return Gst.FlowReturn.EOS
        buf = sample.get_buffer()
        if not self.caps_set:
            self.appsrc.set_property("caps", sample.get_caps().copy())
            self.caps_set = True
        if self.origin is None:  # B-frames decode before they show: start from the decode time
            self.origin = buf.dts if buf.dts != NONE else buf.pts
        duration = buf.duration if buf.duration != NONE else 0
        self.pass_end = max(self.pass_end, buf.pts + duration)
        clock = self.appsrc.get_clock()
        if self.base is None:
            self.base = clock.get_time() - self.appsrc.get_base_time() if clock is not None else 0
        offset = self.base + self.loop_shift - self.origin
        out = buf.copy()
        out.pts = buf.pts + offset
        if buf.dts != NONE:
            out.dts = buf.dts + offset
        due = out.dts if out.dts != NONE else out.pts
        if clock is not None and due > 0:  # real time: wait for the frame's moment
            Gst.Clock.id_wait(clock.new_single_shot_id(self.appsrc.get_base_time() + due))
            if self.stopped:
                return Gst.FlowReturn.EOS
        if self.appsrc.emit("push-buffer", out) != Gst.FlowReturn.OK:  # the client left
            GLib.idle_add(self.stop)
            return Gst.FlowReturn.EOS
        return Gst.FlowReturn.OK


class LoopingFileFactory(GstRtspServer.RTSPMediaFactory):
    def __init__(self, path):
        super().__init__()
        self.path = path
        self.set_launch("( appsrc name=src is-live=true format=time max-bytes=2000000 ! h264parse ! "
                        "rtph264pay name=pay0 pt=96 config-interval=-1 )")
        self.connect("media-configure", self.on_configure)

    def on_configure(self, _factory, media):
        appsrc = media.get_element().get_by_name_recurse_up("src")
        feeder = FileFeeder(self.path, appsrc)
        started = []

        def need_data(_src, _length):
            if not started:
                started.append(True)
                feeder.start()

        appsrc.connect("need-data", need_data)
        media.connect("unprepared", lambda _m: feeder.stop())
        media.feeder = feeder  # lives as long as the media


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (the READY line says which)")
    parser.add_argument("--path", action="append", help="where the stream is served (repeat it for several "
                        "cameras, each client with its own loop); default /clip")
    args = parser.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    paths = args.path or ["/clip"]
    for path in paths:
        server.get_mount_points().add_factory(path, LoopingFileFactory(args.file))
    if server.attach(None) == 0:
        print(f"cannot listen on {args.host}:{args.port}", file=sys.stderr, flush=True)
        sys.exit(2)
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, loop.quit)
    print(f"READY rtsp://{args.host}:{server.get_bound_port()}{paths[0]}", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
