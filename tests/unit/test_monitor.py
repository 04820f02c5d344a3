"""monitor/: parsers on recorded outputs, samples, thresholds, recorder (SIGKILL), report, exporter,
dashboard and rules. Fixtures: tests/data/monitor (SOURCES.md)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sparkpilot.monitor import parse, recorder, sample, sampler, thresholds, vllm
from sparkpilot.monitor.sampler import Frame

DATA = Path(__file__).resolve().parent.parent / "data" / "monitor"
SIM = Path(__file__).resolve().parent.parent / "sim" / "data"
ROOT = Path(__file__).resolve().parents[2]


def rec(name: str) -> str:
    return (DATA / name).read_text()


def test_gpu_line_gb10_idle():
    g = parse.parse_gpu(rec("gpu-gb10-idle.txt"))
    assert (g.temp_c, g.power_w, g.sm_clock_mhz, g.sm_clock_max_mhz, g.util_pct, g.pstate) == (42, 4.0, 2400, 3003, 0, "P8")
    assert g.clock_reasons == ["gpu_idle"] and g.throttling == []


def test_gpu_line_hot_reports_thermal_slowdown():
    g = parse.parse_gpu(rec("gpu-gb10-hot.txt"))
    assert g.throttling == ["sw_thermal_slowdown"]


def test_gpu_missing_tool_is_unknown_not_zero():
    g = parse.parse_gpu(rec("gpu-not-installed.txt"))
    assert g.temp_c is None and g.error == "nvidia-smi: command not found"
    assert parse.clock_reasons("[N/A]") is None


def test_cuda_memory_is_summed_per_process_never_meminfo():
    apps = parse.parse_apps(rec("apps-gb10-vllm.txt"))
    assert apps is not None and [(a.pid, a.name) for a in apps] == [(5839, "VLLM::EngineCore")]
    assert parse.cuda_bytes(apps) == 96823 * 1024 * 1024
    assert parse.cuda_bytes([]) == 0
    assert parse.parse_apps("No devices were found") is None   # an error: unknown, not "no process"
    assert parse.cuda_bytes(None) is None


def frame(**sections: str) -> Frame:
    return Frame(1000.0, dict(sections))


def test_warm_gb10_meminfo_page_cache_and_no_gpu_memory_from_meminfo():
    warm = (SIM / "meminfo" / "gb10-warm.txt").read_text()
    s = sample.build("spark-1", "head", frame(gpu=rec("gpu-gb10-idle.txt"), meminfo=warm, psi=rec("psi-this-machine.txt")))
    m = s.metrics
    mem = parse.parse_meminfo(warm)
    assert m["mem_total_bytes"] == mem["total"]
    assert m["page_cache_ratio"] > 0.5            # 69 GB of cache on a 128 GB Spark
    assert m["cuda_bytes"] is None                 # no compute-apps listing: unknown, NOT MemTotal-MemAvailable
    assert m["psi_some_avg10"] == 0.0
    names = [a.name for a in thresholds.evaluate([s], instant=True)]
    assert names == ["page-cache-crowding"]


def test_net_and_rdma_counters_from_sysfs_grep(tmp_path):
    root = tmp_path / "sys/class"
    for f, v in {"net/enp1s0f1np1/operstate": "up", "net/enp1s0f1np1/speed": "200000", "net/enp1s0f1np1/mtu": "9000",
                 "net/enp1s0f1np1/statistics/rx_bytes": "1000", "net/enp1s0f1np1/statistics/rx_errors": "0",
                 "net/enP2p1s0f1np1/operstate": "down", "net/enP2p1s0f1np1/speed": "-1",
                 "infiniband/rocep1s0f1/ports/1/state": "4: ACTIVE",
                 "infiniband/rocep1s0f1/ports/1/rate": "100 Gb/sec (2X HDR)",
                 "infiniband/rocep1s0f1/ports/1/counters/port_rcv_data": "250",
                 "infiniband/rocep1s0f1/ports/1/hw_counters/out_of_sequence": "0"}.items():
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        (root / f).write_text(v + "\n")
    def grep(*globs: str) -> str:
        return subprocess.run(["sh", "-c", 'grep -H "" ' + " ".join(globs) + " 2>/dev/null"],
                              capture_output=True, text=True, cwd=tmp_path, check=False).stdout
    net = grep("sys/class/net/*/operstate", "sys/class/net/*/speed", "sys/class/net/*/mtu", "sys/class/net/*/statistics/*")
    ib = grep("sys/class/infiniband/*/ports/*/state", "sys/class/infiniband/*/ports/*/rate",
              "sys/class/infiniband/*/ports/*/counters/*", "sys/class/infiniband/*/ports/*/hw_counters/*")
    first = sample.build("a", "head", Frame(10.0, {"net": net, "ib": ib}))
    assert first.ports["enp1s0f1np1"].up and first.ports["enp1s0f1np1"].speed_mbps == 200000
    assert first.ports["enP2p1s0f1np1"].speed_mbps is None       # -1: no link, not a speed
    assert first.rdma["rocep1s0f1/1"].active and first.rdma["rocep1s0f1/1"].rate_gbps == 100
    later = sample.build("a", "head", Frame(12.0, {"net": net.replace(":1000", ":3000"),
                                                   "ib": ib.replace("port_rcv_data:250", "port_rcv_data:750")}), first)
    assert later.metrics["net_rx_bps"] == 1000 * 8            # 2000 bytes in 2 s
    assert later.metrics["rdma_rx_bps"] == 1000 * 8           # 500 words x 4 bytes in 2 s
    names = {a.name for a in thresholds.evaluate([later], instant=True)}
    assert "link-speed-low" in names and "link-down" not in names   # a port never seen up is not lost


def test_vllm_metrics_snapshot_quantile_and_spec_decoding():
    snap = vllm.snapshot(rec("vllm-metrics.txt"))
    assert (snap.running, snap.waiting, snap.kv_cache_usage, snap.generation_tokens) == (2, 3, 0.586, 1000)
    assert snap.model == "m"
    assert vllm.quantile(0.5, snap.itl_buckets, None) == pytest.approx(0.01)
    assert vllm.quantile(0.99, snap.itl_buckets, None) == pytest.approx(0.05 + 0.95 * 4 / 5)
    assert vllm.parse_labels('a="x,y",b="q\\"z"') == {"a": "x,y", "b": 'q"z'}
    text = rec("vllm-metrics.txt")
    later = text.replace("generation_tokens_total{engine=\"0\",model_name=\"m\"} 1000.0",
                         "generation_tokens_total{engine=\"0\",model_name=\"m\"} 1500.0") \
                .replace("accepted_tokens_total{engine=\"0\"} 4418.0", "accepted_tokens_total{engine=\"0\"} 4718.0") \
                .replace("draft_tokens_total{engine=\"0\"} 9560.0", "draft_tokens_total{engine=\"0\"} 9960.0")
    a = sample.build("n", "head", Frame(100.0, {"vllm": text}, vllm_rc=0))
    b = sample.build("n", "head", Frame(110.0, {"vllm": later}, vllm_rc=0), a, a)
    assert b.metrics["vllm_gen_tokens_per_s"] == 50.0
    assert b.metrics["vllm_spec_acceptance"] == pytest.approx(300 / 400)
    down = sample.build("n", "head", Frame(111.0, {"vllm": ""}, vllm_rc=7), b)
    assert down.metrics["vllm_up"] == 0.0


def _series(values, metric="mem_available_ratio", step=10.0, extra=None):
    out = []
    for i, v in enumerate(values):
        s = sample.NodeSample("n", "head", 1000.0 + i * step)
        s.metrics[metric] = v
        s.metrics.update(extra or {})
        out.append(s)
    return out


def test_level_threshold_needs_its_for_duration():
    hot = [thresholds.evaluate(_series([80] * n, "gpu_temp_c")) for n in (5, 8)]
    assert hot[0] == []                                    # 40 s at 80 C: not yet (for 60 s)
    assert [a.name for a in hot[1]] == ["gpu-hot"]         # 70 s
    broken = _series([80, 80, 80, 70, 80, 80, 80, 80], "gpu_temp_c")
    assert thresholds.evaluate(broken) == []


def test_trend_fires_before_the_level():
    falling = [0.60 - 0.004 * i for i in range(60)]        # -0.024 per minute, at 0.364 after 10 min
    alerts = thresholds.evaluate(_series(falling))
    assert [a.name for a in alerts] == ["memory-available-falling"]
    assert thresholds.evaluate(_series([0.60] * 60)) == []


def test_clock_capped_only_under_load():
    capped = parse.parse_gpu(rec("gpu-gb10-capped.txt"))
    busy = _series([capped.sm_clock_mhz] * 5, "gpu_sm_clock_mhz", extra={"gpu_util_pct": 95})
    assert [a.name for a in thresholds.evaluate(busy)] == ["clock-capped"]
    idle = _series([capped.sm_clock_mhz] * 5, "gpu_sm_clock_mhz", extra={"gpu_util_pct": 0})
    assert thresholds.evaluate(idle) == []


def test_every_threshold_has_evidence_fix_and_a_rule():
    ts = thresholds.load()
    assert len({t.id for t in ts}) == len(ts) >= 15
    for t in ts:
        assert t.fix and t.evidence and t.summary, t.id
    rules = thresholds.prometheus_rules()["groups"][0]["rules"]
    assert len(rules) == len(ts)
    trend = next(r for r in rules if r["labels"]["sparkpilot_id"] == "SPM007")
    assert trend["expr"].startswith("predict_linear(sparkpilot_memory_available_ratio[10m], 1800)")


def test_generated_dashboard_and_rules_match_the_repo_copies():
    from sparkpilot.monitor.grafana import dashboard_json, rules_yaml

    assert (ROOT / "monitoring" / "sparkpilot-grafana.json").read_text() == dashboard_json()
    assert (ROOT / "monitoring" / "sparkpilot-rules.yml").read_text() == rules_yaml()


@pytest.mark.skipif(sys.version_info < (3, 11), reason="grafana-foundation-sdk needs Python 3.11 (the main run has it)")
def test_dashboard_round_trips_through_grafanas_published_model():
    """grafana-foundation-sdk's Dashboard model is generated from Grafana's published dashboard schema;
    every key the dashboard uses must survive from_json -> to_json."""
    from grafana_foundation_sdk.models.dashboard import Dashboard

    from sparkpilot.monitor.grafana import dashboard

    d = dashboard()
    back = json.loads(json.dumps(Dashboard.from_json(d).to_json(), default=lambda o: o.to_json()))
    for key in ("uid", "title", "tags", "editable", "graphTooltip", "schemaVersion", "refresh", "time"):
        assert back[key] == d[key], key
    assert len(back["panels"]) == len(d["panels"])
    for mine, theirs in zip(d["panels"], back["panels"], strict=False):
        assert theirs["type"] == "timeseries" and theirs["gridPos"] == mine["gridPos"]
        assert theirs["title"] == mine["title"] and theirs["datasource"] == mine["datasource"]
        assert [t["expr"] for t in theirs["targets"]] == [t["expr"] for t in mine["targets"]]


WRITER = textwrap.dedent("""
    import sys, time
    from sparkpilot.monitor.recorder import Recorder
    r = Recorder(sys.argv[1], segment_bytes=4096, max_bytes=1 << 20)
    i = 0
    while True:
        r.write({"t": 1000 + i, "node": "n", "metrics": {"gpu_temp_c": 40 + i % 30}, "pad": "x" * 200})
        print(i, flush=True)          # printed only after write + fsync returned
        i += 1
""")


def test_recorder_survives_sigkill_mid_write(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    synced = -1
    while synced < 60:
        synced = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stats: dict[str, int] = {}
    got = [r["t"] - 1000 for r in recorder.read(tmp_path, stats)]
    assert got[: synced + 1] == list(range(synced + 1))     # every synced sample, in order, none lost
    assert stats.get("torn", 0) <= 1
    assert len(recorder.segments(tmp_path)) > 2             # rotated at 4 KiB


def test_recorder_stays_within_its_bound(tmp_path):
    with recorder.Recorder(tmp_path, segment_bytes=2048, max_bytes=8192, sync=False) as r:
        for i in range(500):
            r.write({"t": i, "node": "n", "metrics": {}, "pad": "y" * 100})
    total = sum(p.stat().st_size for p in recorder.segments(tmp_path))
    assert total <= 8192 + 2048
    assert [x["t"] for x in recorder.read(tmp_path)][-1] == 499


def test_report_png_and_html(tmp_path):
    from matplotlib import image

    from sparkpilot.monitor import report

    with recorder.Recorder(tmp_path / "rec", sync=False) as r:
        for i in range(120):
            alerts = [{"id": "SPM001", "name": "gpu-hot", "severity": "warning"}] if 60 <= i < 90 else []
            for node in ("spark-1", "spark-2"):
                r.write({"t": 1000.0 + i, "node": node, "alerts": alerts,
                         "metrics": {"gpu_temp_c": 60 + i / 4, "cpu_temp_c": 50.0, "gpu_sm_clock_mhz": 2400,
                                     "mem_available_ratio": 0.5, "page_cache_ratio": 0.1,
                                     "net_rx_bps": 1e9, "vllm_gen_tokens_per_s": 20.0}})
    out = report.write(tmp_path / "rec")
    assert out["samples"] == 240 and out["nodes"] == ["spark-1", "spark-2"]
    assert out["alerts"] == [{"node": "spark-1", "alert": "gpu-hot", "first": "00:17:40", "last": "00:18:09"},
                             {"node": "spark-2", "alert": "gpu-hot", "first": "00:17:40", "last": "00:18:09"}]
    img = image.imread(out["png"])
    assert img.shape[0] > 900 and img.shape[1] > 900
    assert img[..., :3].std() > 0.05                         # not a blank canvas
    reddish = ((img[..., 0] > 0.9) & (img[..., 1] < 0.9) & (img[..., 2] < 0.9)).sum()
    assert reddish > 1000                                     # the alert bands are drawn
    page = Path(out["html"]).read_text()
    assert "gpu-hot" in page and "report.png" in page


def test_exporter_passes_vllm_through_with_node_labels():
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from sparkpilot.monitor import exporter
    from sparkpilot.monitor.collector import Collector, NodeTarget

    c = Collector([NodeTarget("spark-1", "head", None), NodeTarget("spark-2", "worker", None)])
    s = sample.build("spark-1", "head", Frame(1.0, {"gpu": rec("gpu-gb10-hot.txt"), "vllm": rec("vllm-metrics.txt")},
                                              vllm_rc=0))
    c.state["spark-1"].history.append(s)
    c.state["spark-1"].status = "streaming"
    c.state["spark-1"].alerts = thresholds.evaluate([s], instant=True)
    text = generate_latest(exporter.registry(c)).decode()
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    gen = fams["vllm:generation_tokens"].samples[0]
    assert gen.labels == {"engine": "0", "model_name": "m", "node": "spark-1", "role": "head"} and gen.value == 1000
    assert fams["vllm:inter_token_latency_seconds"].type == "histogram"
    assert fams["sparkpilot_gpu_temperature_celsius"].samples[0].value == 86
    assert {x.labels["reason"] for x in fams["sparkpilot_gpu_clock_event_active"].samples} == {"sw_thermal_slowdown"}
    assert {x.labels["name"] for x in fams["sparkpilot_alert"].samples} == {"gpu-hot", "clock-throttled", "requests-queueing"}
    up = {x.labels["node"]: x.value for x in fams["sparkpilot_node_up"].samples}
    assert up == {"spark-1": 1.0, "spark-2": 0.0}


def test_sampler_stream_end_to_end_on_this_machine(tmp_path, monkeypatch):
    """The real sampler script through LocalRunner.stream, with a GB10 tree and a stand-in nvidia-smi."""
    from sparkpilot.monitor.collector import Collector, NodeTarget
    from sparkpilot.transport.local import LocalRunner

    root = tmp_path / "root"
    (root / "proc").mkdir(parents=True)
    (root / "proc/meminfo").write_text((SIM / "meminfo" / "gb10-warm.txt").read_text())
    zone = root / "sys/class/thermal/thermal_zone0"     # the kernel's layout: type, temp in millidegrees
    zone.mkdir(parents=True)
    (zone / "type").write_text("cpu-thermal\n")
    (zone / "temp").write_text("41100\n")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tool = bindir / "nvidia-smi"
    gpu, apps = DATA / "gpu-gb10-hot.txt", DATA / "apps-gb10-vllm.txt"
    tool.write_text(f'#!/bin/sh\ncase "$*" in *query-gpu*) cat {gpu};; *query-compute-apps*) cat {apps};; esac\n')
    tool.chmod(0o755)
    monkeypatch.setenv("SPARKPILOT_HOST_ROOT", str(root))
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    c = Collector([NodeTarget("local", "head", LocalRunner(), vllm_port=None)], interval=0.2).start()
    try:
        assert c.wait(samples=3, timeout=20)
        s = c.latest["local"]
    finally:
        c.stop()
    assert s.metrics["gpu_temp_c"] == 86 and s.metrics["cuda_bytes"] == 96823 * 1024 * 1024
    assert s.metrics["page_cache_ratio"] > 0.5 and s.metrics["cpu_temp_c"] == 41.1
    assert c.state["local"].status in ("streaming", "connecting") or c.state["local"].status.startswith("lost")
    # a sampler killed outright (SIGKILL of its group) leaves its folder; the next one removes it
    left = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("sparkpilot-watch.*"))
    c2 = Collector([NodeTarget("local", "head", LocalRunner(), vllm_port=None)], interval=0.2).start()
    try:
        assert c2.wait(samples=1, timeout=20)
    finally:
        c2.stop()
    assert not any(p.exists() for p in left)


def test_cli_watch_once_json_and_report_errors(tmp_path):
    from sparkpilot.cli.main import main

    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert main(["watch", "--host", "replay://pair", "--once"]) == 2
    assert main(["watch", "--interval", "0", "--once"]) == 2
    assert main(["exporter", "--rules"]) == 0


def test_frame_reader_skips_a_torn_frame():
    text = "\n".join([sampler.MARK + "frame 5.0", sampler.MARK + "gpu", "1, 2",
                      sampler.MARK + "frame 6.0", sampler.MARK + "meminfo", "MemTotal: 10 kB",
                      sampler.MARK + "end"])
    frames = sampler.split_frames(text)
    assert [f.epoch for f in frames] == [6.0] and frames[0].sections == {"meminfo": "MemTotal: 10 kB"}
    assert json.loads(json.dumps(sample.build("n", "r", frames[0]).to_record()))["metrics"]["mem_total_bytes"] == 10240


def test_record_on_nodes_survives_sigkill_and_reports(tmp_path, monkeypatch):
    """The node's own recorder (--record-on-nodes): frames appended and synced by the node's shell;
    the whole sampler SIGKILLed mid-run; the copied folder drawn by report like a local recording."""
    from sparkpilot.monitor import report

    root = tmp_path / "root"
    (root / "proc").mkdir(parents=True)
    (root / "proc/meminfo").write_text((SIM / "meminfo" / "gb10-warm.txt").read_text())
    monkeypatch.setenv("SPARKPILOT_HOST_ROOT", str(root))
    node_dir = tmp_path / "rec" / "spark-1"
    proc = subprocess.Popen(sampler.argv(0.2, None, False, str(node_dir)), stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    assert proc.stdout is not None
    ends = 0
    while ends < 8:
        ends += proc.stdout.readline().startswith(sampler.MARK + "end")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    logs = list(node_dir.glob("frames-*.log"))
    assert len(logs) == 1
    frames = sampler.split_frames(logs[0].read_text())
    assert len(frames) >= 7 and all(f.epoch > 1.7e9 for f in frames)   # stamped by the node's clock
    out = report.write(tmp_path / "rec")
    assert out["nodes"] == ["spark-1"] and out["samples"] == len(frames)
    assert Path(out["png"]).stat().st_size > 10000


def test_every_dashboard_view_renders_with_recorded_samples():
    from rich.console import Console

    from sparkpilot.monitor.collector import Collector, NodeTarget
    from sparkpilot.ui.watch import VIEWS, render

    c = Collector([NodeTarget("spark-1", "head", None)])   # type: ignore[arg-type]
    s = sample.build("spark-1", "head", Frame(1.0, {"gpu": rec("gpu-gb10-hot.txt"), "apps": rec("apps-gb10-vllm.txt"),
                                                    "vllm": rec("vllm-metrics.txt")}, vllm_rc=0))
    c.state["spark-1"].history.append(s)
    c.state["spark-1"].alerts = thresholds.evaluate([s], instant=True)
    screens = {}
    for view in VIEWS:
        console = Console(record=True, width=200)
        console.print(render(c, view))
        screens[view] = console.export_text()
    assert "86°C 92W 2400MHz 95% [sw_thermal_slowdown]" in screens["nodes"]
    assert "run 2 wait 3 KV 59%" in screens["nodes"]
    assert "VLLM::EngineCore" in screens["processes"] and "96823" in screens["processes"]
    assert "fix: Check the Spark's airflow" in screens["alerts"]


def test_exporter_http_keeps_vllm_names_even_when_openmetrics_is_asked():
    """Prometheus asks for OpenMetrics first; prometheus_client 0.26's encoder would write vllm_..."""
    import urllib.request

    from sparkpilot.monitor import exporter
    from sparkpilot.monitor.collector import Collector, NodeTarget

    c = Collector([NodeTarget("spark-1", "head", None)])   # type: ignore[arg-type]
    c.state["spark-1"].history.append(
        sample.build("spark-1", "head", Frame(1.0, {"vllm": rec("vllm-metrics.txt")}, vllm_rc=0)))
    server, _ = exporter.serve(c, 0, "127.0.0.1")
    try:
        req = urllib.request.Request(f"http://127.0.0.1:{server.server_address[1]}/metrics",
                                     headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read().decode()
            assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    finally:
        server.shutdown()
    assert 'vllm:generation_tokens_total{engine="0",model_name="m",node="spark-1",role="head"} 1000.0' in body
