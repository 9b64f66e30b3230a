"""Step 8: end-to-end prototype of the feature. Detached async CameraSupervisor
(on head) owns StreamWorker actors pinned to node_a / node_b with HARD
NodeAffinity + max_restarts=0. Its monitor loop pings every 0.25 s; when a
worker dies (ActorDiedError / ActorUnschedulableError) it re-creates a worker
on a surviving node and moves the cameras. Measures SIGKILL(node_a) ->
all cameras served by live workers.  usage: step8_supervisor_e2e.py [tuned|moderate|default]"""
import os, sys, time, asyncio
sys.path.insert(0, os.path.dirname(__file__))
from cluster import LocalCluster
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

@ray.remote(num_cpus=0, max_restarts=0)
class StreamWorker:
    def __init__(self): self.cams = set()
    def assign(self, cams): self.cams |= set(cams); return sorted(self.cams)
    def ping(self): return ray.get_runtime_context().get_node_id()

@ray.remote(num_cpus=0)
class CameraSupervisor:
    def __init__(self, cameras):
        self.cameras = list(cameras)
        self.workers = {}        # key -> (actor, node_id, cams)
        self.events = []
        self.task = None

    def _alive_worker_nodes(self):
        return [n["NodeID"] for n in ray.nodes()
                if n["Alive"] and "node:__internal_head__" not in n["Resources"]]

    async def _spawn(self, node_id, cams):
        a = StreamWorker.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False)).remote()
        await a.assign.remote(cams)
        self.workers[a._actor_id.hex()] = (a, node_id, list(cams))

    async def start(self):
        nodes = self._alive_worker_nodes()
        for i, n in enumerate(nodes):
            await self._spawn(n, self.cameras[i::len(nodes)])
        self.task = asyncio.get_running_loop().create_task(self._monitor())
        return self.assignment()

    def assignment(self):
        return {k[:6]: (nid[:8], cams) for k, (a, nid, cams) in self.workers.items()}

    async def _monitor(self):
        while True:
            for key, (a, nid, cams) in list(self.workers.items()):
                try:
                    await asyncio.wait_for(a.ping.remote(), timeout=1.0)
                except asyncio.TimeoutError:
                    continue           # slow, not (yet) known dead
                except (ray.exceptions.ActorDiedError, ray.exceptions.ActorUnschedulableError,
                        ray.exceptions.ActorUnavailableError) as e:
                    if isinstance(e, ray.exceptions.ActorUnavailableError):
                        continue       # transient; wait for the definitive error
                    t = time.time()
                    del self.workers[key]
                    alive = [n for n in self._alive_worker_nodes() if n != nid] or self._alive_worker_nodes()
                    await self._spawn(alive[0], cams)
                    self.events.append((type(e).__name__, t, time.time()))
            await asyncio.sleep(0.25)

    def get_events(self): return self.events

mode = sys.argv[1] if len(sys.argv) > 1 else "tuned"
TUNED = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500,
         "health_check_timeout_ms": 500, "health_check_failure_threshold": 3}
MODERATE = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 1000,
            "health_check_timeout_ms": 1000, "health_check_failure_threshold": 3}
c = LocalCluster(system_config={"tuned": TUNED, "moderate": MODERATE}.get(mode))
try:
    c.start_head(); c.start_worker("node_a"); c.start_worker("node_b")
    ray.init(address=c.address, namespace="facesearch", logging_level="ERROR")
    na = [n["NodeID"] for n in ray.nodes() if n["NodeName"] == "node_a"][0]
    sup = CameraSupervisor.options(name="camera_supervisor", lifetime="detached",
            max_restarts=-1, max_task_retries=-1, resources={"node_head": 0.001}).remote(
            [f"cam{i}" for i in range(6)])
    print("initial", ray.get(sup.start.remote()))
    time.sleep(1)
    t0 = time.time(); c.kill_node("node_a")
    while time.time() - t0 < 40:
        a = ray.get(sup.assignment.remote())
        if all(nid != na[:8] for nid, _ in a.values()) and sum(len(c_) for _, c_ in a.values()) == 6:
            break
        time.sleep(0.1)
    print(f"RESULT {mode}: all 6 cameras on live nodes {time.time()-t0:.2f}s after SIGKILL")
    for name, t_det, t_done in ray.get(sup.get_events.remote()):
        print(f"   detected {name} at {t_det-t0:.2f}s, replacement ready at {t_done-t0:.2f}s")
    print("final", a)
    ray.kill(sup)
finally:
    ray.shutdown(); c.shutdown()
