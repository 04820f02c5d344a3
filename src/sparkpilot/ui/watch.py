"""The watch dashboard: rich Live over a running monitor Collector (rich is imported here only).

Views (key v): nodes (a row per node with history sparklines), processes (CUDA processes per node),
alerts (each firing threshold with its fix), links (QSFP netdevs and RoCE ports). q quits.
"""

from __future__ import annotations

import sys
import time
from typing import Any

VIEWS = ("nodes", "processes", "alerts", "links")
BLOCKS = "▁▂▃▄▅▆▇█"


def spark(values: list[float | None], width: int = 20) -> str:
    vals = values[-width:]
    known = [v for v in vals if v is not None]
    if not known:
        return ""
    lo, hi = min(known), max(known)
    span = hi - lo or 1.0
    return "".join(" " if v is None else BLOCKS[min(int((v - lo) / span * (len(BLOCKS) - 1)), len(BLOCKS) - 1)]
                   for v in vals)


def _f(v: float | None, fmt: str = "{:.0f}", scale: float = 1.0) -> str:
    return "-" if v is None else fmt.format(v * scale)


def _row(c: Any, name: str) -> dict[str, str]:
    st = c.state[name]
    s = c.latest.get(name)
    m = s.metrics if s else {}
    hist = c.history(name)
    reasons = ",".join(s.gpu.throttling) if s and s.gpu and s.gpu.throttling else ""
    return {
        "node": name, "status": st.status if len(st.status) < 40 else st.status[:39] + "…",
        "gpu": f"{_f(m.get('gpu_temp_c'))}°C {_f(m.get('gpu_power_w'))}W {_f(m.get('gpu_sm_clock_mhz'))}MHz "
               f"{_f(m.get('gpu_util_pct'))}%" + (f" [{reasons}]" if reasons else ""),
        "gpu_hist": spark([h.metrics.get("gpu_temp_c") for h in hist]),
        "mem": f"avail {_f(m.get('mem_available_ratio'), '{:.0f}%', 100)} cache {_f(m.get('page_cache_ratio'), '{:.0f}%', 100)}"
               f" CUDA {_f(m.get('cuda_bytes'), '{:.1f}G', 1 / 2**30)}",
        "mem_hist": spark([h.metrics.get("mem_available_ratio") for h in hist]),
        "cpu": f"{_f(m.get('cpu_temp_c'))}°C",
        "link": f"{_f(m.get('net_rx_bps'), '{:.2f}', 1e-9)}/{_f(m.get('net_tx_bps'), '{:.2f}', 1e-9)} Gb/s"
                f" up {_f(m.get('ports_up'))}",
        "vllm": "-" if m.get("vllm_running") is None and m.get("vllm_up") is None else
                f"run {_f(m.get('vllm_running'))} wait {_f(m.get('vllm_waiting'))}"
                f" KV {_f(m.get('vllm_kv_cache_usage'), '{:.0f}%', 100)}"
                f" {_f(m.get('vllm_gen_tokens_per_s'), '{:.1f}')} tok/s",
        "tok_hist": spark([h.metrics.get("vllm_gen_tokens_per_s") for h in hist]),
    }


def text_summary(c: Any, alerts: dict[str, list] | None = None) -> str:
    """Plain text of the nodes view and the alerts (watch --once --format text)."""
    alerts = c.alerts if alerts is None else alerts
    lines = []
    for t in c.targets:
        r = _row(c, t.name)
        lines.append(f"{r['node']} ({t.role}): {c.state[t.name].status}")
        lines.append(f"  GPU {r['gpu']}   CPU {r['cpu']}")
        lines.append(f"  memory {r['mem']}")
        lines.append(f"  QSFP {r['link']}   vLLM {r['vllm']}")
        for a in alerts.get(t.name, []):
            lines.append(f"  ALERT {a.severity}: {a.message}\n    fix: {a.fix}")
    return "\n".join(lines)


def render(c: Any, view: str) -> Any:
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    alerts = [a for t in c.targets for a in c.alerts.get(t.name, [])]
    head = Text(f"sparkpilot watch  {time.strftime('%H:%M:%S')}  view: {view}  "
                f"(v: next view, q: quit)  alerts: {len(alerts)}", style="bold")
    if view == "nodes":
        tab = Table(expand=True)
        for col in ("node", "status", "GPU", "GPU °C history", "unified memory", "avail history", "CPU", "QSFP rx/tx",
                    "vLLM", "tok/s history"):
            tab.add_column(col, overflow="fold")
        for t in c.targets:
            r = _row(c, t.name)
            style = "red" if any(a.severity == "error" for a in c.alerts.get(t.name, [])) else \
                "yellow" if c.alerts.get(t.name) else None
            cells = [Text(r[k]) for k in ("node", "status", "gpu", "gpu_hist", "mem", "mem_hist", "cpu", "link",
                                          "vllm", "tok_hist")]   # Text: "[reason]" is not rich markup
            tab.add_row(*cells, style=style)
        body: Any = tab
    elif view == "processes":
        tab = Table(expand=True)
        for col in ("node", "pid", "process", "memory (MiB)"):
            tab.add_column(col)
        for name, s in c.latest.items():
            for a in s.apps or []:
                tab.add_row(name, str(a.pid), Text(a.name), _f(a.used_mib))
        body = tab
    elif view == "links":
        tab = Table(expand=True)
        for col in ("node", "port", "state", "speed", "MTU / rate"):
            tab.add_column(col)
        for name, s in c.latest.items():
            for p in s.ports.values():
                tab.add_row(name, p.name, "up" if p.up else "down", _f(p.speed_mbps, "{:.0f} Mb/s"), _f(p.mtu))
            for r in s.rdma.values():
                tab.add_row(name, f"{r.device}/{r.port}", r.state or "-", "", _f(r.rate_gbps, "{:.0f} Gb/s"))
        body = tab
    else:
        body = Text("\n".join(f"{a.node}: {a.severity.upper()} {a.message}\n    fix: {a.fix}" for a in alerts)
                    or "no alert")
    lines = [Text(f"{a.node}: {a.severity.upper()} {a.message}", style="bold red" if a.severity == "error"
                  else "bold yellow") for a in alerts[:6]]
    return Group(head, body, Panel(Group(*lines) if lines else Text("no alert", style="green"), title="alerts"))


class _Keys:
    """Single key presses from the terminal (cbreak), without blocking."""

    def __enter__(self) -> _Keys:
        import termios
        import tty

        self.fd = sys.stdin.fileno()
        self.old = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)
        return self

    def read(self, timeout: float) -> str:
        import os
        import select

        ready, _, _ = select.select([self.fd], [], [], timeout)
        return os.read(self.fd, 1).decode(errors="ignore") if ready else ""

    def __exit__(self, *exc: object) -> None:
        import termios

        termios.tcsetattr(self.fd, termios.TCSADRAIN, self.old)


def run_dashboard(c: Any, refresh: float = 1.0) -> int:
    from rich.live import Live

    view = 0
    try:
        with _Keys() as keys, Live(render(c, VIEWS[view]), auto_refresh=False, screen=True) as live:
            while True:
                key = keys.read(refresh)
                if key in ("q", "Q"):
                    return 0
                if key in ("v", "V", "\t"):
                    view = (view + 1) % len(VIEWS)
                live.update(render(c, VIEWS[view]), refresh=True)
    except KeyboardInterrupt:
        return 130
