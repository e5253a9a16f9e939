"""The HAProxy target's pure parts: `show stat` CSV, percents <-> server weights, status
-> failed checks, runtime API addresses, and the names allowed into a command."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from watchstander.config.haproxy import HaproxyTargetConfig
from watchstander.errors import DataPlaneError
from watchstander.providers.targets import haproxy_runtime as runtime

HEADER = (
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,"
    "wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,"
    "lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,"
    "hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,"
    "cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,"
    "ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,"
    "check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,uweight,"
)


def row(px: str, sv: str, *, status: str, weight: int, scur: int = 0, type_: int = 2,
        chkfail: int = 0, check: str = "L7OK", addr: str = "127.0.0.1:9000",
        h5xx: int = 0) -> str:  # fmt: skip
    cells = dict.fromkeys(HEADER[2:].rstrip(",").split(","), "")
    cells.update(
        pxname=px, svname=sv, status=status, weight=str(weight), uweight=str(weight),
        scur=str(scur), stot="7", type=str(type_), chkfail=str(chkfail), chkdown="1",
        check_status=check, check_desc="Layer7 check passed", addr=addr,
        hrsp_5xx=str(h5xx), lastchg="12",
    )  # fmt: skip
    return ",".join(cells.values()) + ","


def test_parse_stat_keeps_the_servers_of_one_backend() -> None:
    text = "\n".join(
        [
            HEADER,
            row("shop", "FRONTEND", status="OPEN", weight=0, type_=0),
            row("shop", "a1", status="UP", weight=256, scur=3, h5xx=4),
            row("shop", "a2", status="UP 1/3", weight=10, chkfail=2, check="* L7STS"),
            row("shop", "b1", status="MAINT", weight=0, check=""),
            row("other", "x1", status="UP", weight=1),
            row("shop", "BACKEND", status="UP", weight=266, type_=1),
            "",
        ]
    )
    rows = runtime.parse_stat(text, "shop")
    assert [r.server for r in rows] == ["a1", "a2", "b1"]
    a1, a2, b1 = rows
    assert a1.up and a1.weight == 256 and a1.current_sessions == 3 and a1.responses_5xx == 4
    assert a1.address == "127.0.0.1:9000" and a1.total_sessions == 7 and a1.last_change_s == 12
    assert a2.up and a2.check_status == "L7STS" and a2.check_failures == 2
    assert b1.in_maintenance and not b1.up and not b1.draining


def test_parse_stat_refuses_text_without_a_header() -> None:
    with pytest.raises(ValueError, match="no CSV header"):
        runtime.parse_stat("No such proxy.\n", "shop")


@pytest.mark.parametrize(
    ("status", "failures"),
    [("UP", 0), ("UP 1/3", 2), ("UP 3/3", 0), ("DOWN", 3), ("DOWN 1/2", 0), ("MAINT", 0)],
)
def test_health_failures_from_the_status(status: str, failures: int) -> None:
    assert runtime.health_failures(status, 3) == failures


def test_percents_become_server_weights_split_over_each_version() -> None:
    servers = {"1.0.0": ["a1", "a2", "a3"], "1.1.0": ["b1"], "0.9.0": ["z1"]}
    weights = runtime.server_weights({"1.0.0": 95, "1.1.0": 5}, servers)
    assert weights == {"a1": 256, "a2": 256, "a3": 256, "b1": 40, "z1": 0}
    share = weights["b1"] / sum(weights.values())
    assert share == pytest.approx(0.05, abs=0.001)


def test_a_small_percent_never_rounds_to_zero_and_all_fit_in_256() -> None:
    servers = {"1.0.0": [f"a{i}" for i in range(10)], "1.1.0": ["b1"]}
    weights = runtime.server_weights({"1.0.0": 99.99, "1.1.0": 0.01}, servers)
    assert weights["b1"] == 1 and max(weights.values()) == runtime.MAX_WEIGHT
    assert runtime.server_weights({"1.1.0": 100}, servers)["a1"] == 0
    assert runtime.server_weights({}, servers) == dict.fromkeys([*servers["1.0.0"], "b1"], 0)


def test_server_weights_back_to_percents() -> None:
    text = "\n".join(
        [
            HEADER,
            row("shop", "a1", status="UP", weight=192),
            row("shop", "a2", status="UP", weight=192),
            row("shop", "b1", status="UP", weight=128),
            row("shop", "b2", status="MAINT", weight=128),
        ]
    )
    stats = runtime.parse_stat(text, "shop")
    percents = runtime.version_weights(stats, {"1.0.0": ["a1", "a2"], "1.1.0": ["b1", "b2"]})
    assert percents == {"1.0.0": 75.0, "1.1.0": 25.0}
    assert runtime.version_weights(stats, {"2.0.0": ["c1"]}) == {}


def test_runtime_api_addresses() -> None:
    assert runtime.parse_address("unix:/run/haproxy/admin.sock").path == "/run/haproxy/admin.sock"
    tcp = runtime.parse_address("tcp:127.0.0.1:9999")
    assert (tcp.host, tcp.port, str(tcp)) == ("127.0.0.1", 9999, "tcp:127.0.0.1:9999")
    with pytest.raises(ValueError, match="neither unix:PATH nor tcp:HOST:PORT"):
        runtime.parse_address("tcp:127.0.0.1:99999")


async def test_a_command_with_a_second_command_inside_is_never_sent() -> None:
    api = runtime.RuntimeApi(path="/nonexistent/admin.sock")
    for command in ("set server shop/a1 weight 1\nshutdown frontend x", "show info; show stat"):
        with pytest.raises(DataPlaneError, match="refusing unsafe command"):
            await runtime.run_command(api, command, timeout=1.0)


BASE = {"runtime_api": "unix:/run/haproxy/admin.sock", "backend": "shop"}


@pytest.mark.parametrize(
    "fields",
    [
        {"backend": "shop\nshutdown frontend shop"},
        {"backend": "shop;x"},
        {"servers": {"1.0.0": ["a1 weight 256"]}},
        {"servers": {"1.0.0\n": ["a1"]}},
        {"servers": {"1.0.0": ["a1"], "1.1.0": ["a1"]}},
        {"command": ["serve"]},  # no {port}
        {},  # neither command nor servers
        {"command": ["serve", "{port}"], "servers": {"1.0.0": ["a1"]}},
        {"runtime_api": "http://localhost", "command": ["serve", "{port}"]},
    ],
)
def test_config_refuses_what_could_not_work_or_could_inject(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        HaproxyTargetConfig.model_validate({**BASE, **fields})


def test_config_accepts_both_modes() -> None:
    started = HaproxyTargetConfig.model_validate({**BASE, "command": ["serve", "{port}"]})
    assert started.servers == {} and started.state_dir == ".watchstander/haproxy"
    existing = HaproxyTargetConfig.model_validate({**BASE, "servers": {"1.0.0": ["a1", "a2"]}})
    assert existing.command is None and existing.servers["1.0.0"] == ["a1", "a2"]
