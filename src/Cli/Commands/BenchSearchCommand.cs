using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SrMobile.Contracts;
using SrMobile.Engine;

namespace SrMobile.Cli.Commands;

/// <summary>
/// <c>srmobile bench search</c>: the cluster's own cost. An embedded cluster (every role, the durable local store)
/// runs a grid of N candidates with simulated training and measuring (<c>SrMobile:Simulate</c>), so what is timed
/// is the grains, the leases, the stored state and the fronts; reports wall time, CPU per candidate and memory.
/// </summary>
public static class BenchSearchCommand
{

    /// <summary>
    /// What the process holds once the GC has compacted and returned what it can to the system: the RSS right after a
    /// run also counts heap the GC keeps for reuse, which says little about what the cluster itself retains.
    /// </summary>
    private static long HeldMemory(Process process)
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        process.Refresh();
        return process.WorkingSet64;
    }

    /// <summary>
    /// The benchmark's spec for at least <paramref name="requested"/> candidates, and its size: two recipes × 50 depths
    /// × as many widths as it takes; past the width bound (256), more PTQ recipes.
    /// </summary>
    internal static (string Spec, int Candidates) Grid(int requested)
    {
        var recipes = Math.Max(2, (int)Math.Ceiling(requested / (50.0 * SpecBounds.MaxWidth)));
        var depths = Math.Min(50, (requested + 1) / 2);
        var widths = (int)Math.Ceiling(requested / ((double)recipes * depths));
        var quantization = string.Join(", ", ["{kind: ptq}", "{kind: qat}", .. Enumerable.Range(1, recipes - 2).Select(i => $"{{kind: ptq, calibration_images: {100 + i}}}")]);
        var spec = $$"""
            name: bench-{{requested}}
            scales: [3]
            depths: [{{string.Join(", ", Enumerable.Range(1, depths))}}]
            widths: [{{string.Join(", ", Enumerable.Range(1, widths))}}]
            quantization: [{{quantization}}]
            datasets: {train: simulated}
            devices: [local]
            protocol: {input: 360x640}
            """;
        return (spec, recipes * depths * widths);
    }

    public static Command Create(CliConsole console)
    {
        var candidates = new Option<int>("--candidates") { DefaultValueFactory = _ => 10_000, Description = "Grid size (rounded up to whole rows of 100)" };
        var workers = new Option<int>("--workers") { DefaultValueFactory = _ => 4, Description = "Simulated trainers, and as many simulated device workers" };
        var json = new Option<bool>("--json");
        var command = new Command("search", "Wall time, coordinator CPU per candidate and memory of a search with simulated workers.") { candidates, workers, json };
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, async () =>
        {
            var requested = parse.GetValue(candidates);
            if (requested < 1)
                throw new BadInputException($"--candidates must be at least 1, not {requested}");
            var workerCount = parse.GetValue(workers);
            if (workerCount < 1)
                throw new BadInputException($"--workers must be at least 1, not {workerCount}");
            var (spec, gridSize) = Grid(requested);
            using var work = new BenchCommand.TemporaryWorkFolder();
            var settings = new Dictionary<string, string?>
            {
                ["SrMobile:Simulate"] = "true",
                // The benchmark's grid is its own: the candidate limit guards specs from elsewhere.
                ["SrMobile:Limits:MaxCandidates"] = Math.Max(SpecLimits.DefaultMaxCandidates, gridSize).ToString(CultureInfo.InvariantCulture),
                ["SrMobile:Trainer:Concurrency"] = workerCount.ToString(CultureInfo.InvariantCulture),
                ["SrMobile:Device:Concurrency"] = workerCount.ToString(CultureInfo.InvariantCulture),
                ["SrMobile:Trainer:PollInterval"] = "00:00:00.05",
                ["SrMobile:Device:PollInterval"] = "00:00:00.05",
            };
            using var host = SearchCommand.EmbeddedCluster(work.Path, 1, settings);
            await host.StartAsync(cancellation);
            try
            {
                var grains = host.Services.GetRequiredService<IGrainFactory>();
                var process = Process.GetCurrentProcess();
                var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
                process.Refresh();
                var rssBefore = process.WorkingSet64;
                var cpuBefore = process.TotalProcessorTime;
                var clock = Stopwatch.StartNew();

                var search = grains.GetGrain<ISearchGrain>($"bench-{requested}");
                var submitted = await search.Submit(spec);
                if (!submitted.Accepted)
                    throw new InvalidOperationException(string.Join("; ", submitted.Errors));
                var submitSeconds = clock.Elapsed.TotalSeconds;
                await SearchCommand.Follow(console, grains, search, submitted.Candidates, cancellation);
                var wall = clock.Elapsed.TotalSeconds;

                process.Refresh();
                var cpu = (process.TotalProcessorTime - cpuBefore).TotalMilliseconds;
                var rssAfter = process.WorkingSet64;
                var status = await search.Status();
                var front = await grains.GetGrain<IParetoGrain>($"bench-{requested}/x3/local").Get();
                var trainQueue = await grains.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool).Summary();
                var report = new
                {
                    benchmark = "search",
                    candidates = submitted.Candidates,
                    simulated_workers = workerCount,
                    done = status.Stages.GetValueOrDefault(CandidateStage.Done),
                    failed = status.Stages.GetValueOrDefault(CandidateStage.Failed),
                    training_jobs_completed = trainQueue.Completed,
                    front_points = front.Front.Count,
                    measured_points = front.All.Count,
                    submit_seconds = submitSeconds,
                    wall_seconds = wall,
                    candidates_per_second = submitted.Candidates / wall,
                    cpu_ms_per_candidate = cpu / submitted.Candidates,
                    cpu_utilisation_of_machine = cpu / 1000 / wall / Environment.ProcessorCount,
                    rss_mb_before = rssBefore / 1e6,
                    rss_mb_after = rssAfter / 1e6,
                    rss_mb_peak = process.PeakWorkingSet64 / 1e6,
                    managed_heap_growth_mb = (GC.GetTotalMemory(forceFullCollection: true) - heapBefore) / 1e6,
                    rss_mb_held = HeldMemory(process) / 1e6,
                };
                console.Out.WriteLine(parse.GetValue(json) ? JsonSerializer.Serialize(report, SrMobileCommand.Json) : string.Create(CultureInfo.InvariantCulture,
                    $"{report.candidates} candidates ({report.done} done, {report.failed} failed), {workerCount} simulated trainers and device workers: {report.wall_seconds:F1} s wall (submit {report.submit_seconds:F1} s), {report.candidates_per_second:F0}/s; CPU {report.cpu_ms_per_candidate:F2} ms per candidate ({report.cpu_utilisation_of_machine:P0} of {Environment.ProcessorCount} cores); RSS {report.rss_mb_before:F0} → {report.rss_mb_after:F0} MB (peak {report.rss_mb_peak:F0}, held after a compacting GC {report.rss_mb_held:F0}), managed heap +{report.managed_heap_growth_mb:F0} MB; front {report.front_points} of {report.measured_points}"));
                return report.done == report.candidates ? 0 : 1;
            }
            finally
            {
                await host.StopAsync(CancellationToken.None);
            }
        }));
        return command;
    }
}
