"""Run the upstream simulators until Ctrl-C.

Usage:

    python -m simulators --port 8100 [--host 127.0.0.1] [--latency-ms 0]
                         [--extra-customers 0] [--no-rate-limits]

Prints the base URLs as `USAGE_*_URL=...` lines (paste them into `.env` to point the
dashboard at these simulators), the demo isnotai keys and the EvoVoice demo logins.
Drive faults and settings over HTTP under `/_sim/` (see `simulators.server`).
"""

from __future__ import annotations

import argparse
import threading

from simulators.data import EVOVOICE_NO_ROLE_USER, EVOVOICE_SERVICE_USER, ISNOTAI_INTEGRATIONS
from simulators.server import start_simulators
from simulators.state import SimulatorState


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m simulators", description="Run the upstream simulators until Ctrl-C."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--latency-ms", type=int, default=0, help="delay of every API request")
    parser.add_argument(
        "--extra-customers", type=int, default=0, help="synthetic EvoVoice customers to add"
    )
    parser.add_argument(
        "--no-rate-limits", action="store_true", help="turn off isnotai's per-key rate limits"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Start the simulators, print how to reach them and serve until interrupted."""
    args = parse_args(argv)
    state = SimulatorState(
        latency_ms=args.latency_ms,
        extra_customers=args.extra_customers,
        rate_limits=not args.no_rate_limits,
    )
    sims = start_simulators(host=args.host, port=args.port, state=state, quiet=False)
    print(f"USAGE_ISNOTAI_US_URL={sims.isnotai_us_url}")
    print(f"USAGE_ISNOTAI_EU_URL={sims.isnotai_eu_url}")
    print(f"USAGE_EVOVOICE_URL={sims.evovoice_url}")
    print()
    print("isnotai demo keys (demo data, not secrets):")
    for item in ISNOTAI_INTEGRATIONS:
        print(f"  {item.name:<8} region={item.region} tier={item.tier:<10} {item.key}")
    print("EvoVoice demo logins (username password):")
    print(f"  {EVOVOICE_SERVICE_USER[0]} {EVOVOICE_SERVICE_USER[1]}  (SystemAdministrator)")
    print(f"  {EVOVOICE_NO_ROLE_USER[0]} {EVOVOICE_NO_ROLE_USER[1]}  (no role: gets 403)")
    print(f"Control endpoints: {sims.base_url}/_sim/  -- Ctrl-C to stop", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sims.stop()


if __name__ == "__main__":
    main()
