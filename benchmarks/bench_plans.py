"""The forms products run in (runtime/gemm_plans.py) for the training workloads, and what the
choices are worth: per workload, every product's shape class with the form chosen, how, and
each form's measured time; then the step's median time with those plans against planning off,
alternately.

    python benchmarks/bench_plans.py [--only M1,C1,R1,M2,C2,R2] [--mode exhaustive|measure]
                                     [--repeat N] [--threads N]

Each workload plans in a fresh cache directory, so `measure` shows what a cold start measures
within its budget and `exhaustive` what every product would choose.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile

import harness

WORKLOADS = ("M1", "C1", "R1", "M2", "C2", "R2")


def collect_choices():
    """Every gemm_plans.Choice made from now on, in a list."""
    from runtime.gemm_plans import FormChooser

    made = []
    choose = FormChooser.choose

    def recording(self, *args):
        launch = choose(self, *args)
        made.append(self.choices[-1])
        return launch

    FormChooser.choose = recording
    return made


def build(spec, mode: str):
    os.environ["SYMBOLIC_GEMM_PLANS"] = mode
    step = spec["ours"]("cpu", *spec["inputs"]())
    step()  # plans are made at the first call
    return step


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(WORKLOADS))
    parser.add_argument("--mode", default="exhaustive", choices=("exhaustive", "measure"))
    parser.add_argument("--repeat", type=int, default=10, help="timed calls per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternations plans/off")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    harness.configure_threads(args.threads)
    import bench_conv
    import bench_lstm
    import bench_mlp

    from runtime import gemm_plans

    specs = {"M1": bench_mlp.M1, "M2": bench_mlp.M2, "C1": bench_conv.C1}
    specs.update({"C2": bench_conv.C2, "R1": bench_lstm.R1, "R2": bench_lstm.R2})
    made = collect_choices()
    for name in args.only.split(","):
        with tempfile.TemporaryDirectory(prefix="bench-plans-") as cache:
            os.environ["SYMBOLIC_CACHE_DIR"] = cache
            gemm_plans.forget_known_plans()
            del made[:]
            planned = build(specs[name], args.mode)
            print(f"{name} ({args.mode}):")
            for choice in made:
                times = "  ".join(f"{f} {s * 1e6:.1f} µs" for f, s in choice.seconds.items())
                print(f"  {choice}  {times}")
            plain = build(specs[name], "off")
            times = {"plans": [], "off": []}
            for _ in range(args.rounds):
                times["plans"].append(harness.median_time(planned, args.repeat))
                times["off"].append(harness.median_time(plain, args.repeat))
            print(
                "  step median: "
                + ", ".join(f"{k} {statistics.median(v) * 1e3:.2f} ms" for k, v in times.items())
            )


if __name__ == "__main__":
    main()
