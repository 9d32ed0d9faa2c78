using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Orleans.Configuration;
using SrMobile.Cli.Chaos;
using SrMobile.Contracts;
using SrMobile.Engine;
using SrMobile.Grains.Placement;
using SrMobile.Grains.Storage;

namespace SrMobile.Cli.Commands;

/// <summary>
/// <c>srmobile bench chaos</c>: a candidate's life when machines fail on their own. A simulated grid runs twice on
/// separate <c>srmobile silo</c> processes sharing Azure Storage (a coordinator, trainers, device workers): once
/// undisturbed, once while trainers and device workers are SIGKILLed and restarted at random every few seconds and
/// the coordinator is killed once. Reports the kills survived, results taken twice, results lost, candidates stuck,
/// the time to finish against the undisturbed run, and whether the two runs' fronts are equal.
/// </summary>
public static class BenchChaosCommand
{
    private const string SearchName = "chaos";
    private const string Device = "local";


    /// <summary>How long a run may take after its kills end before its unfinished candidates count as stuck.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(10);

    /// <summary>The grid: two recipes × 10 depths × as many widths (8, 12, …) as make at least <paramref name="requested"/> candidates.</summary>
    internal static (string Spec, int Candidates) Grid(int requested)
    {
        var depths = Math.Min(10, Math.Max(1, (requested + 1) / 2));
        var widths = (int)Math.Ceiling(requested / (2.0 * depths));
        if (8 + 4 * (widths - 1) > SpecBounds.MaxWidth)
            throw new BadInputException($"--candidates {requested}: at most {2 * 10 * ((SpecBounds.MaxWidth - 8) / 4 + 1)} for this benchmark's grid");
        var spec = $$"""
            name: {{SearchName}}
            scales: [3]
            depths: [{{string.Join(", ", Enumerable.Range(1, depths))}}]
            widths: [{{string.Join(", ", Enumerable.Range(0, widths).Select(i => 8 + 4 * i))}}]
            quantization: [{kind: ptq}, {kind: qat}]
            datasets: {train: simulated}
            devices: [{{Device}}]
            """;
        return (spec, 2 * depths * widths);
    }

    /// <summary>What one run left behind, read from the cluster and from the silos' own logs.</summary>
    internal sealed record RunResult(
        string Label,
        double Seconds,
        int Done,
        int Failed,
        int Stuck,
        int Lost,
        int Duplicates,
        int TrainingStarts,
        int WorkerKills,
        int CoordinatorKills,
        IReadOnlyList<ParetoPoint> Front,
        IReadOnlyList<string> Errors);

    /// <summary>The chaos run kept every promise: nothing lost, taken twice or stuck, and the front the undisturbed run found.</summary>
    internal static IReadOnlyList<string> Broken(RunResult baseline, RunResult chaos)
    {
        var broken = new List<string>();
        foreach (var run in new[] { baseline, chaos })
        {
            if (run.Stuck > 0)
                broken.Add($"{run.Label}: {run.Stuck} candidate(s) stuck");
            if (run.Lost > 0)
                broken.Add($"{run.Label}: {run.Lost} result(s) lost");
            if (run.Duplicates > 0)
                broken.Add($"{run.Label}: {run.Duplicates} result(s) taken twice");
            if (run.Failed > 0)
                broken.Add($"{run.Label}: {run.Failed} candidate(s) failed: {string.Join("; ", run.Errors.Take(3))}");
        }
        if (!FrontsEqual(baseline.Front, chaos.Front))
            broken.Add($"the fronts differ: {baseline.Front.Count} points undisturbed, {chaos.Front.Count} under chaos");
        return broken;
    }

    internal static bool FrontsEqual(IReadOnlyList<ParetoPoint> a, IReadOnlyList<ParetoPoint> b) =>
        a.Select(p => (p.CandidateKey, p.MedianMs, p.Psnr)).Order().SequenceEqual(b.Select(p => (p.CandidateKey, p.MedianMs, p.Psnr)).Order());

    public static Command Create(CliConsole console)
    {
        var candidates = new Option<int>("--candidates") { DefaultValueFactory = _ => 200, Description = "Grid size (rounded up to whole rows of 20)" };
        var chaosSeconds = new Option<double>("--chaos-seconds") { DefaultValueFactory = _ => 120, Description = "How long workers are killed and restarted" };
        var trainers = new Option<int>("--trainers") { DefaultValueFactory = _ => 3 };
        var devices = new Option<int>("--devices") { DefaultValueFactory = _ => 2, Description = "Device workers (all of one device key)" };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1, Description = "Seed of the kill schedule" };
        var connection = new Option<string?>("--connection-string") { Description = "Azure Storage for the cluster (default: an Azurite this command starts)" };
        var workdir = new Option<DirectoryInfo?>("--workdir") { Description = "Keep the silos' folders and logs here (default: a temporary folder, deleted)" };
        var json = new Option<bool>("--json");
        var command = new Command("chaos", "A simulated grid on separate silo processes, undisturbed and then with workers and the coordinator SIGKILLed.")
        {
            candidates, chaosSeconds, trainers, devices, seed, connection, workdir, json,
        };
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, async () =>
        {
            var requested = parse.GetValue(candidates);
            if (requested < 1)
                throw new BadInputException($"--candidates must be at least 1, not {requested}");
            var window = parse.GetValue(chaosSeconds);
            if (!(window >= 10))
                throw new BadInputException($"--chaos-seconds must be at least 10, not {window}");
            var trainerCount = parse.GetValue(trainers);
            var deviceCount = parse.GetValue(devices);
            if (trainerCount < 1 || deviceCount < 1)
                throw new BadInputException($"--trainers and --devices must be at least 1, not {trainerCount} and {deviceCount}");
            var (spec, gridSize) = Grid(requested);

            var kept = parse.GetValue(workdir);
            using var temporary = kept is null ? new BenchCommand.TemporaryWorkFolder() : null;
            var root = kept?.FullName ?? temporary!.Path;
            Directory.CreateDirectory(root);
            using var azurite = parse.GetValue(connection) is null ? await AzuriteProcess.Start(Path.Combine(root, "azurite"), cancellation) : null;
            var storage = parse.GetValue(connection) ?? azurite!.ConnectionString;
            var layout = new Layout(storage, trainerCount, deviceCount);

            var baseline = await Run(console, "undisturbed", Path.Combine(root, "undisturbed"), layout, spec, gridSize, null, cancellation);
            var chaos = await Run(console, "chaos", Path.Combine(root, "chaos"), layout, spec, gridSize,
                new KillSchedule(TimeSpan.FromSeconds(window), new Random(parse.GetValue(seed))), cancellation);
            var broken = Broken(baseline, chaos);

            var report = new
            {
                benchmark = "chaos",
                candidates = gridSize,
                trainers = trainerCount,
                device_workers = deviceCount,
                chaos_seconds = window,
                worker_kills = chaos.WorkerKills,
                coordinator_kills = chaos.CoordinatorKills,
                duplicates = chaos.Duplicates,
                lost = chaos.Lost,
                stuck = chaos.Stuck,
                failed = chaos.Failed,
                training_starts = chaos.TrainingStarts,
                undisturbed_training_starts = baseline.TrainingStarts,
                seconds = chaos.Seconds,
                undisturbed_seconds = baseline.Seconds,
                slowdown = chaos.Seconds / baseline.Seconds,
                front_points = chaos.Front.Count,
                fronts_equal = FrontsEqual(baseline.Front, chaos.Front),
                broken,
                workdir = kept?.FullName,
            };
            console.Out.WriteLine(parse.GetValue(json) ? JsonSerializer.Serialize(report, SrMobileCommand.Json) : string.Create(CultureInfo.InvariantCulture,
                $"""
                {gridSize} candidates, {trainerCount} trainers, {deviceCount} device workers, a coordinator; each its own process
                undisturbed: {baseline.Seconds:F1} s, {baseline.TrainingStarts} training starts
                chaos:       {chaos.Seconds:F1} s ({report.slowdown:F2}×), {chaos.WorkerKills} worker kills and {chaos.CoordinatorKills} coordinator kill(s) survived in {window:F0} s, {chaos.TrainingStarts} training starts
                duplicates {chaos.Duplicates}, lost {chaos.Lost}, stuck {chaos.Stuck}, failed {chaos.Failed}; fronts {(report.fronts_equal ? "equal" : "DIFFER")} ({chaos.Front.Count} points)
                """));
            foreach (var problem in broken)
                console.Error.WriteLine($"broken: {problem}");
            return broken.Count == 0 ? 0 : 1;
        }));
        return command;
    }

    /// <summary>The cluster's shape: its storage and how many workers of each kind.</summary>
    private sealed record Layout(string ConnectionString, int Trainers, int Devices)
    {
        public IReadOnlyList<string> Workers =>
            [.. Enumerable.Range(1, Trainers).Select(i => $"trainer-{i}"), .. Enumerable.Range(1, Devices).Select(i => $"device-{i}")];
    }

    /// <summary>Kill a random worker every 2–5 s and start it again 1–4 s later, for <paramref name="Window"/>; the coordinator once, halfway.</summary>
    private sealed record KillSchedule(TimeSpan Window, Random Random);

    private static async Task<RunResult> Run(CliConsole console, string label, string folder, Layout layout, string spec, int gridSize, KillSchedule? schedule, CancellationToken cancellation)
    {
        Directory.CreateDirectory(folder);
        using var silos = new SiloProcesses(folder);
        var clusterId = $"{label}-{Guid.NewGuid():N}"[..20];
        var ports = new Dictionary<string, int>();
        foreach (var name in layout.Workers.Prepend("coordinator"))
        {
            var settings = SiloSettings(layout.ConnectionString, clusterId, folder, name, name == "coordinator" ? SiloRoles.Coordinator : name.StartsWith("trainer", StringComparison.Ordinal) ? SiloRoles.Trainer : SiloRoles.Device);
            ports[name] = int.Parse(settings["SrMobile:SiloPort"], CultureInfo.InvariantCulture);
            silos.Start(name, settings);
        }
        using var client = await Connect(layout.ConnectionString, clusterId, silos, cancellation);
        var grains = client.Services.GetRequiredService<IClusterClient>();
        await Until(async () => (await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true)).Keys.Select(h => h.Endpoint.Port).ToHashSet().IsSupersetOf(ports.Values),
            TimeSpan.FromMinutes(3), $"{label}: every silo joining", silos, cancellation);

        var search = grains.GetGrain<ISearchGrain>(SearchName);
        var submitted = await search.Submit(spec);
        if (!submitted.Accepted)
            throw new InvalidOperationException(string.Join("; ", submitted.Errors));
        var clock = Stopwatch.StartNew();
        using var stopKilling = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var kills = schedule is null ? Task.FromResult((Workers: 0, Coordinator: 0)) : Kill(silos, layout.Workers, schedule, stopKilling.Token);

        var bar = new ProgressBar(console, $"{label,-11}", gridSize);
        var deadline = (schedule?.Window ?? TimeSpan.Zero) + Patience;
        SearchStatus? status = null;
        while (clock.Elapsed < deadline)
        {
            try
            {
                status = await search.Status();
            }
            catch (Exception e) when (e is OrleansException or TimeoutException or InvalidOperationException)
            {
                // The coordinator is away (killed): its restart brings the search back.
            }
            var finished = status is null ? 0 : status.Stages.Where(s => s.Key is CandidateStage.Done or CandidateStage.Failed or CandidateStage.Cancelled).Sum(s => s.Value);
            var down = silos.Names.Count(name => !silos.IsRunning(name));
            if (status?.Finished == true)
            {
                bar.Finish(finished, $"{down} down");
                break;
            }
            bar.Report(finished, $"{down} silo(s) down");
            await Task.Delay(TimeSpan.FromSeconds(0.5), cancellation);
        }
        var seconds = clock.Elapsed.TotalSeconds;
        await stopKilling.CancelAsync();
        var (workerKills, coordinatorKills) = await kills;
        // Read what the run left from a coordinator that is up, whatever the kills did last.
        if (!silos.IsRunning("coordinator"))
            silos.Start("coordinator");
        return await Collect(grains, label, spec, seconds, workerKills, coordinatorKills, silos, cancellation);
    }

    private static Dictionary<string, string> SiloSettings(string storage, string clusterId, string folder, string name, string role) => new()
    {
        ["SrMobile:Roles:0"] = role,
        ["SrMobile:Storage:Kind"] = StorageSettings.Azure,
        ["SrMobile:Storage:ConnectionString"] = storage,
        ["SrMobile:ClusterId"] = clusterId,
        ["SrMobile:ServiceId"] = clusterId,
        ["SrMobile:SiloPort"] = AzuriteProcess.FreePort().ToString(CultureInfo.InvariantCulture),
        ["SrMobile:GatewayPort"] = AzuriteProcess.FreePort().ToString(CultureInfo.InvariantCulture),
        // Every silo process is a web host too (health, /metrics): each its own port.
        ["SrMobile:Http:Port"] = AzuriteProcess.FreePort().ToString(CultureInfo.InvariantCulture),
        // Each silo its own folders, as machines that share no disk.
        ["SrMobile:DataFolder"] = Path.Combine(folder, $"{name}-state"),
        ["SrMobile:Trainer:WorkFolder"] = Path.Combine(folder, $"{name}-work"),
        ["SrMobile:Device:ArtifactFolder"] = Path.Combine(folder, $"{name}-device"),
        ["SrMobile:Trainer:WorkerId"] = name,
        ["SrMobile:Device:WorkerId"] = name,
        ["SrMobile:Device:Key"] = Device,
        ["SrMobile:Simulate"] = "true",
        ["SrMobile:Simulated:TrainingTime"] = "00:00:02",
        ["SrMobile:Simulated:MeasurementTime"] = "00:00:00.5",
        ["SrMobile:Trainer:PollInterval"] = "00:00:00.2",
        ["SrMobile:Device:PollInterval"] = "00:00:00.2",
        ["SrMobile:Trainer:HeartbeatInterval"] = "00:00:01",
        ["SrMobile:Device:HeartbeatInterval"] = "00:00:01",
        // A killed worker's job comes back within seconds, not the minute a real lease lasts.
        ["SrMobile:WorkQueue:LeaseDuration"] = "00:00:05",
        ["SrMobile:WorkQueue:ExpiryCheckPeriod"] = "00:00:00.5",
        // Every worker dies every ~20 s here, far more often than machines do; the limit is for a job that kills its workers.
        ["SrMobile:Candidate:MaxLostLeases"] = "10",
        ["Logging:LogLevel:Default"] = "Warning",
        ["Logging:LogLevel:SrMobile"] = "Information",
    };

    private static async Task<(int Workers, int Coordinator)> Kill(SiloProcesses silos, IReadOnlyList<string> workers, KillSchedule schedule, CancellationToken stop)
    {
        var clock = Stopwatch.StartNew();
        var (workerKills, coordinatorKills) = (0, 0);
        var restarts = new List<Task>();
        async Task StartAgain(string name, double afterSeconds)
        {
            await Task.Delay(TimeSpan.FromSeconds(afterSeconds), CancellationToken.None);
            silos.Start(name);
        }
        try
        {
            while (clock.Elapsed < schedule.Window)
            {
                await Task.Delay(TimeSpan.FromSeconds(2 + 3 * schedule.Random.NextDouble()), stop);
                if (coordinatorKills == 0 && clock.Elapsed >= schedule.Window / 2)
                {
                    silos.Kill("coordinator");
                    coordinatorKills++;
                    restarts.Add(StartAgain("coordinator", 2));
                    continue;
                }
                var running = workers.Where(silos.IsRunning).ToList();
                if (running.Count == 0)
                    continue;
                var victim = running[schedule.Random.Next(running.Count)];
                silos.Kill(victim);
                workerKills++;
                restarts.Add(StartAgain(victim, 1 + 3 * schedule.Random.NextDouble()));
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The search finished before the window closed.
        }
        await Task.WhenAll(restarts);
        return (workerKills, coordinatorKills);
    }

    private static async Task<RunResult> Collect(IClusterClient grains, string label, string specText, double seconds, int workerKills, int coordinatorKills, SiloProcesses silos, CancellationToken cancellation)
    {
        var spec = SearchSpecReader.Parse(specText).Spec!;
        var candidates = SearchGrid.Expand(spec).ToList();
        var views = new List<CandidateView>();
        foreach (var candidate in candidates)
            views.Add(await Retry(() => grains.GetGrain<ICandidateGrain>(candidate.Key).Get(), cancellation));
        var front = await Retry(() => grains.GetGrain<IParetoGrain>(candidates[0].ParetoKey(Device)).Get(), cancellation);
        var onFront = front.All.Select(p => p.CandidateKey).ToHashSet();
        var done = views.Where(v => v.Stage == CandidateStage.Done).ToList();

        // Every result the coordinator stored is one line in its log (appended across its restarts); a job with two took a result twice.
        var took = Lines(silos, "coordinator", @"took the result of (\S+) from epoch").GroupBy(job => job).Sum(g => g.Count() - 1);
        var stored = front.All.GroupBy(p => p.CandidateKey).Sum(g => g.Count() - 1);
        var trainingStarts = silos.Names.Where(n => n.StartsWith("trainer", StringComparison.Ordinal)).Sum(n => Lines(silos, n, @"training (\S+) \(epoch").Count());
        return new RunResult(
            label,
            seconds,
            done.Count,
            views.Count(v => v.Stage == CandidateStage.Failed),
            views.Count(v => v.Stage is not (CandidateStage.Done or CandidateStage.Failed or CandidateStage.Cancelled)),
            done.Count(v => !onFront.Contains(v.Key) || v.Measurements.Count != spec.Devices.Count),
            took + stored,
            trainingStarts,
            workerKills,
            coordinatorKills,
            front.Front,
            [.. views.SelectMany(v => v.Errors.Select(e => $"{v.Key}: {e}"))]);
    }

    private static IEnumerable<string> Lines(SiloProcesses silos, string name, string pattern)
    {
        var regex = new Regex(pattern, RegexOptions.CultureInvariant);
        return File.Exists(silos.LogPath(name))
            ? File.ReadLines(silos.LogPath(name)).Select(line => regex.Match(line)).Where(m => m.Success).Select(m => m.Groups[1].Value).ToList()
            : [];
    }

    private static async Task<IHost> Connect(string storage, string clusterId, SiloProcesses silos, CancellationToken cancellation)
    {
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (true)
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = AppContext.BaseDirectory });
            builder.Logging.ClearProviders();
            builder.UseOrleansClient(client =>
            {
                client.UseSrMobileAzureClustering(new StorageSettings { Kind = StorageSettings.Azure, ConnectionString = storage });
                client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (clusterId, clusterId));
                // A killed gateway is left for the next one at once; calls to a coordinator that is away fail fast.
                client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(1));
                client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(10));
            });
            var host = builder.Build();
            try
            {
                await host.StartAsync(cancellation);
                return host;
            }
            catch (Exception e) when (e is not OperationCanceledException && DateTime.UtcNow < deadline)
            {
                // No gateway in the membership table yet: the silos are still starting.
                host.Dispose();
                if (!silos.IsRunning("coordinator"))
                    throw new InvalidOperationException($"the coordinator exited:\n{silos.Tail("coordinator")}");
                await Task.Delay(TimeSpan.FromSeconds(1), cancellation);
            }
        }
    }

    private static async Task Until(Func<Task<bool>> condition, TimeSpan within, string what, SiloProcesses silos, CancellationToken cancellation)
    {
        var deadline = DateTime.UtcNow + within;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (await condition())
                    return;
            }
            catch (Exception e) when (e is OrleansException or TimeoutException)
            {
            }
            if (silos.Names.FirstOrDefault(n => !silos.IsRunning(n)) is { } exited)
                throw new InvalidOperationException($"silo {exited} exited:\n{silos.Tail(exited)}");
            await Task.Delay(TimeSpan.FromSeconds(0.5), cancellation);
        }
        throw new TimeoutException($"{what} did not happen within {within}");
    }

    private static async Task<T> Retry<T>(Func<Task<T>> read, CancellationToken cancellation)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            try
            {
                return await read();
            }
            catch (Exception e) when (e is OrleansException or TimeoutException && DateTime.UtcNow < deadline)
            {
                await Task.Delay(TimeSpan.FromSeconds(0.5), cancellation);
            }
        }
    }
}
