"""Actors used by the spike (stand-ins for camera supervisor / stream worker)."""
import os, time
import ray


@ray.remote(num_cpus=0)
class StreamWorker:
    def __init__(self, name):
        self.name = name
        self.started = time.time()

    def ping(self):
        ctx = ray.get_runtime_context()
        return {"name": self.name, "node_id": ctx.get_node_id(), "pid": os.getpid(),
                "started": self.started}


@ray.remote(num_cpus=0)
class CameraSupervisor:
    """Detached, named. Keeps camera->worker assignment; state is in-memory
    here (lost on restart) -- real impl must persist/rebuild it."""
    def __init__(self):
        self.started = time.time()
        self.restarts_seen = 0

    def info(self):
        return {"pid": os.getpid(), "node_id": ray.get_runtime_context().get_node_id(),
                "started": self.started}
