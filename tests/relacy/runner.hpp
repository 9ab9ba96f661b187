// tests/relacy/runner.hpp - runs a test program's Relacy cases and reports each one.
//
//   <program> [--case NAME] [--iterations N] [--start N] [--history]
//             [--expect-failure KIND[,KIND...]]
//
// Each case runs under its scheduler (random with N iterations, or an exhaustive search) and
// prints one line: scheduler, iterations, seconds, and how often each scenario the case is
// about actually happened. A failure prints Relacy's report and the execution history of the
// failing iteration, and how to run that iteration alone (--start, random scheduler).
//
// --expect-failure (the mutation tests): the program succeeds only if Relacy reports a failure
// of one of the given kinds (data_race, deadlock, livelock, assert) in a selected case; it
// prints the iteration of detection.
#ifndef TRACEBUF_TESTS_RELACY_RUNNER_HPP
#define TRACEBUF_TESTS_RELACY_RUNNER_HPP

#include <chrono>
#include <cstdlib>
#include <initializer_list>
#include <vector>

#include "harness.hpp"

namespace tracebuf_relacy {

struct test_case {
    const char* name;
    bool (*simulate)(rl::test_params&); // rl::simulate<Suite>
    rl::scheduler_type_e scheduler;
    unsigned iterations;    // random scheduler
    unsigned context_bound; // context-bound scheduler
};

// rl::simulate<Suite> instantiates the whole simulator once per scheduler; a case needs one.
// The same steps: run; on a failure, run again from the failing iteration's saved state,
// collecting the history, which Relacy prints to params.output_stream.
template <class Suite, class Scheduler>
bool simulate_with(rl::test_params& params) {
    rl::ostringstream state;
    const rl::test_result_e result = rl::run_test<Suite, Scheduler>(params, state, false);
    if (result != rl::test_result_success && !params.collect_history) {
        const rl::iteration_t failed_at = params.stop_iteration;
        params.initial_state = state.str();
        params.collect_history = true;
        rl::ostringstream again;
        rl::run_test<Suite, Scheduler>(params, again, true);
        params.test_result = result;
        params.stop_iteration = failed_at;
    }
    return result == rl::test_result_success;
}

template <class Suite>
constexpr test_case random_case(const char* name, unsigned iterations) {
    return test_case{name, &simulate_with<Suite, rl::random_scheduler<Suite::params::thread_count>>,
                     rl::sched_random, iterations, 0};
}
template <class Suite>
constexpr test_case bounded_case(const char* name, unsigned context_bound) {
    return test_case{name, &simulate_with<Suite, rl::context_bound_scheduler<Suite::params::thread_count>>,
                     rl::sched_bound, 0, context_bound};
}
template <class Suite>
constexpr test_case full_case(const char* name) {
    return test_case{name, &simulate_with<Suite, rl::full_search_scheduler<Suite::params::thread_count>>,
                     rl::sched_full, 0, 0};
}

inline const char* kind_name(rl::test_result_e r) {
    switch (r) {
    case rl::test_result_data_race: return "data_race";
    case rl::test_result_deadlock: return "deadlock";
    case rl::test_result_livelock: return "livelock";
    case rl::test_result_user_assert_failed: return "assert";
    default: return rl::test_result_str(r);
    }
}

inline const char* scheduler_name(const test_case& c) {
    switch (c.scheduler) {
    case rl::sched_random: return "random";
    case rl::sched_bound: return "context-bound";
    case rl::sched_full: return "full-search";
    default: return "?";
    }
}

inline int run_cases(int argc, char** argv, std::initializer_list<test_case> cases) {
    std::string only, expect_kinds;
    long iterations = -1, start = -1;
    bool history = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::cerr << a << " needs a value\n";
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--case") only = value();
        else if (a == "--iterations") iterations = std::stol(value());
        else if (a == "--start") start = std::stol(value());
        else if (a == "--history") history = true;
        else if (a == "--expect-failure") expect_kinds = "," + value() + ",";
        else {
            std::cerr << "unknown argument " << a << "\n";
            return 2;
        }
    }

#ifdef TRACEBUF_RELACY_MUTANT
    std::cout << "relacy: built against the mutant " << TRACEBUF_RELACY_MUTANT << "\n";
#else
    if (!expect_kinds.empty()) {
        std::cerr << "--expect-failure: this program was not built against a mutant\n";
        return 2;
    }
#endif
    bool ran = false, all_passed = true, caught = false;
    for (const test_case& c : cases) {
        if (!only.empty() && only != c.name) continue;
        ran = true;
        rl::test_params params;
        // Relacy replaces operator new while a simulation runs: its own streams allocate
        // with malloc, ordinary ones would mix the two heaps.
        rl::ostringstream relacy_out, progress;
        params.output_stream = &relacy_out;
        params.progress_stream = &progress;
        params.search_type = c.scheduler;
        params.context_bound = c.context_bound;
        params.execution_depth_limit = 20000;
        params.iteration_count = static_cast<rl::iteration_t>(iterations > 0 ? iterations : c.iterations);
        if (start > 0) {
            params.initial_state = std::to_string(start); // random scheduler: the iteration is the seed
            params.iteration_count = static_cast<rl::iteration_t>(start);
        }
        coverage = coverage_counts{};
        const auto t0 = std::chrono::steady_clock::now();
        const bool ok = c.simulate(params);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

        std::cout << "relacy " << c.name << ": " << scheduler_name(c);
        if (c.scheduler == rl::sched_bound) std::cout << " (bound " << c.context_bound << ")";
        std::cout << ", ";
        if (ok) {
            std::cout << params.stop_iteration << " iterations, " << seconds << " s: passed\n";
            std::cout << "  scenarios (iterations in which each happened):";
            for (unsigned e = 0; e < static_cast<unsigned>(event::count); ++e)
                if (coverage.with[e] != 0)
                    std::cout << " " << event_name(static_cast<event>(e)) << "=" << coverage.with[e];
            std::cout << "\n";
            continue;
        }
        all_passed = false;
        const char* kind = kind_name(params.test_result);
        std::cout << "FAILED at iteration " << params.stop_iteration << " after " << seconds
                  << " s: " << rl::test_result_str(params.test_result) << " (" << kind << ")\n";
        const bool expected = expect_kinds.find("," + std::string(kind) + ",") != std::string::npos;
        if (expected) caught = true;
        const std::string report(relacy_out.str().c_str());
        if (!expect_kinds.empty() && !history) {
            // A mutant: the end of the history is where it went wrong.
            // A mutant: the end of the interleaved history is where it went wrong (the
            // per-thread listings follow it).
            std::vector<std::string> lines;
            std::istringstream in(report);
            for (std::string l; std::getline(in, l);) lines.push_back(l);
            std::size_t end = 0;
            while (end < lines.size() && lines[end] != "thread 0:") ++end;
            const std::size_t from = end > 40 ? end - 40 : 0;
            std::cout << "  the last " << end - from << " events (--history for all):\n";
            for (std::size_t i = from; i < end; ++i) std::cout << "  | " << lines[i] << "\n";
        } else {
            std::cout << report;
        }
        if (c.scheduler == rl::sched_random)
            std::cout << "  reproduce: " << argv[0] << " --case " << c.name << " --start "
                      << params.stop_iteration << " --history\n";
        if (!expect_kinds.empty() && !expected)
            std::cout << "  (a failure, but not of the expected kind " << expect_kinds << ")\n";
    }
    if (!ran) {
        std::cerr << "no such case: " << only << "\n";
        return 2;
    }
    if (!expect_kinds.empty()) {
        if (caught) {
            std::cout << "relacy: the mutant was caught\n";
            return 0;
        }
        std::cout << "relacy: the mutant was NOT caught\n";
        return 1;
    }
    return all_passed ? 0 : 1;
}

} // namespace tracebuf_relacy

#endif // TRACEBUF_TESTS_RELACY_RUNNER_HPP
