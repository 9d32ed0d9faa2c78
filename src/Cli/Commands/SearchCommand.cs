using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SrMobile.Contracts;
using SrMobile.Engine;
using SrMobile.Grains;
using SrMobile.Grains.Placement;
using SrMobile.Silo;

namespace SrMobile.Cli.Commands;

/// <summary><c>srmobile search run spec.yaml</c>: the whole cluster in this process (every role, durable local state).</summary>
public static class SearchCommand
{
    public static Command Create(CliConsole console)
    {
        var command = new Command("search", "Grid searches on the Orleans cluster.");
        var spec = new Argument<FileInfo>("spec") { Description = "Search spec (YAML or JSON)" };
        var workdir = new Option<DirectoryInfo?>("--workdir") { Description = "State, checkpoints and models (default: .srmobile in the current folder)" };
        var threads = new Option<int>("--threads") { Description = "Trainer threads (0 = all cores)", DefaultValueFactory = _ => 0 };
        var dataRoots = new Option<DirectoryInfo[]>("--data-root")
        {
            Description = "A folder the spec's datasets may be in, besides the current folder and the bundled files (repeatable; also SrMobile:DataRoots)",
            AllowMultipleArgumentsPerToken = false,
        };
        var run = new Command("run", "Run a search on an embedded one-machine cluster; run it again to resume.") { spec, workdir, threads, dataRoots };
        run.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, async () =>
        {
            var path = parse.GetValue(spec)!.FullName;
            var text = InputFile.ReadText(path, "search spec");
            // The configurable limits are the cluster's to apply (its configuration may raise them); the rest is checked here.
            var (parsed, errors) = SearchSpecReader.Parse(text, SpecLimits.None);
            if (parsed is null)
                throw new BadInputException($"{path}: the spec has {errors.Count} problem(s):\n  " + string.Join("\n  ", errors));
            var root = parse.GetValue(workdir)?.FullName ?? Path.Combine(Directory.GetCurrentDirectory(), ".srmobile");
            using var host = EmbeddedCluster(root, parse.GetValue(threads), dataRoots: (parse.GetValue(dataRoots) ?? []).Select(d => d.FullName));
            // The cluster's own limits and roots, checked before it starts: a refused spec leaves no state folder behind.
            var (_, refused) = SearchSpecReader.Parse(text, SubmitLimits(host.Services));
            if (refused.Count > 0)
                throw new BadInputException($"{path}: the spec has {refused.Count} problem(s):\n  " + string.Join("\n  ", refused));
            await host.StartAsync(cancellation);
            try
            {
                var grains = host.Services.GetRequiredService<IGrainFactory>();
                var search = grains.GetGrain<ISearchGrain>(parsed.Name);
                var submitted = await search.Submit(text);
                if (!submitted.Accepted)
                    throw new BadInputException($"{path}: " + string.Join("; ", submitted.Errors));
                console.Error.WriteLine(submitted.Created
                    ? $"search '{parsed.Name}': {submitted.Candidates} candidates, state in {root}"
                    : $"search '{parsed.Name}' resumes: {submitted.Candidates} candidates, state in {root}");
                await Follow(console, grains, search, submitted.Candidates, cancellation);
                await PrintFronts(console.Out, grains, parsed);
            }
            finally
            {
                await host.StopAsync(CancellationToken.None);
            }
            return 0;
        }));
        command.Subcommands.Add(run);
        command.Subcommands.Add(Submit(console));
        command.Subcommands.Add(Status(console));
        command.Subcommands.Add(Pareto(console));
        command.Subcommands.Add(Cancel(console));
        command.Subcommands.Add(Devices(console));
        return command;
    }

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(20);

    private static Option<string> ClusterOption() => new("--cluster")
    {
        Description = "Gateway of a running cluster, host:port (srmobile-silo listens on 127.0.0.1:30000)",
        DefaultValueFactory = _ => "127.0.0.1:30000",
    };

    private static Command Submit(CliConsole console)
    {
        var spec = new Argument<FileInfo>("spec");
        var cluster = ClusterOption();
        var json = new Option<bool>("--json");
        var command = new Command("submit", "Validate a spec and submit it to a running cluster (submitting it again is a no-op).") { spec, cluster, json };
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, () => WithCluster(parse.GetValue(cluster)!, cancellation, async grains =>
        {
            var path = parse.GetValue(spec)!.FullName;
            var text = InputFile.ReadText(path, "search spec");
            // The configurable limits are the cluster's to apply (its configuration may raise them); the rest is checked here.
            var (parsed, errors) = SearchSpecReader.Parse(text, SpecLimits.None);
            if (parsed is null)
                throw new BadInputException($"{path}: the spec has {errors.Count} problem(s):\n  " + string.Join("\n  ", errors));
            var result = await grains.GetGrain<ISearchGrain>(parsed.Name).Submit(text);
            if (!result.Accepted)
                throw new BadInputException($"{path}: " + string.Join("; ", result.Errors));
            console.Out.WriteLine(parse.GetValue(json)
                ? JsonSerializer.Serialize(new { name = parsed.Name, result.Created, result.Candidates }, Json)
                : $"search '{parsed.Name}': {result.Candidates} candidates{(result.Created ? "" : " (already submitted)")}");
            return 0;
        })));
        return command;
    }

    private static Command Status(CliConsole console)
    {
        var name = new Argument<string>("name");
        var cluster = ClusterOption();
        var json = new Option<bool>("--json");
        var command = new Command("status", "Candidates by stage.") { name, cluster, json };
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, () => WithCluster(parse.GetValue(cluster)!, cancellation, async grains =>
        {
            var status = await grains.GetGrain<ISearchGrain>(parse.GetValue(name)!).Status();
            if (!status.Submitted)
                throw new BadInputException($"no search named '{status.Name}' on this cluster");
            var stages = Enum.GetValues<CandidateStage>().ToDictionary(s => s.ToString().ToLowerInvariant(), s => status.Stages.GetValueOrDefault(s));
            console.Out.WriteLine(parse.GetValue(json)
                ? JsonSerializer.Serialize(new
                {
                    name = status.Name, cancelled = status.Cancelled, finished = status.Finished, candidates = status.Candidates, created = status.Expanded, stages,
                    waiting = (status.Stalls ?? []).Select(s => new { pool = s.Pool, reason = s.Reason, jobs = s.Waiting, since = s.SinceUtc, waited_seconds = Math.Round((DateTimeOffset.UtcNow - s.SinceUtc).TotalSeconds) }),
                }, Json)
                : $"{status.Name}{(status.Cancelled ? " (cancelled)" : "")}{(status.Finished ? " (finished)" : "")}: {status.Expanded} of {status.Candidates} candidates created; "
                    + string.Join(", ", stages.Select(s => $"{s.Key} {s.Value}")) + string.Concat((status.Stalls ?? []).Select(s => $"{Environment.NewLine}waiting: {s}")));
            return 0;
        })));
        return command;
    }

    private static Command Pareto(CliConsole console)
    {
        var name = new Argument<string>("name");
        var cluster = ClusterOption();
        var csv = new Option<FileInfo?>("--csv") { Description = "Also write every front as CSV (scale, device, candidate, psnr, median_ms, mai_score)" };
        var json = new Option<bool>("--json");
        var command = new Command("pareto", "The Pareto front per scale and device key.") { name, cluster, csv, json };
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, () => WithCluster(parse.GetValue(cluster)!, cancellation, async grains =>
        {
            var spec = await grains.GetGrain<ISearchGrain>(parse.GetValue(name)!).Spec()
                ?? throw new BadInputException($"no search named '{parse.GetValue(name)}' on this cluster");
            var fronts = new List<(int Scale, string Device, ParetoFrontView View)>();
            foreach (var scale in spec.Scales)
                foreach (var device in spec.Devices)
                    fronts.Add((scale, device, await grains.GetGrain<IParetoGrain>($"{spec.Name}/x{scale}/{device}").Get()));
            if (parse.GetValue(csv) is { } file)
            {
                var lines = new List<string> { "scale,device,candidate,psnr,median_ms,mai_score" };
                lines.AddRange(fronts.SelectMany(f => f.View.Front.Select(p => string.Create(CultureInfo.InvariantCulture,
                    $"{f.Scale},{f.Device},{p.CandidateKey},{p.Psnr:R},{p.MedianMs:R},{ParetoMath.MaiScore(p.Psnr, p.MedianMs, spec.MaiConstant):R}"))));
                await File.WriteAllLinesAsync(file.FullName, lines, cancellation);
            }
            if (parse.GetValue(json))
                console.Out.WriteLine(JsonSerializer.Serialize(fronts.Select(f => new { f.Scale, f.Device, front = f.View.Front, hypervolume = f.View.History.LastOrDefault()?.Hypervolume ?? 0 }), Json));
            else
                await PrintFronts(console.Out, grains, spec);
            return 0;
        })));
        return command;
    }

    private static Command Devices(CliConsole console)
    {
        var cluster = ClusterOption();
        var json = new Option<bool>("--json");
        var command = new Command("devices", "Device workers registered with the cluster, online or not.") { cluster, json };
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, () => WithCluster(parse.GetValue(cluster)!, cancellation, async grains =>
        {
            var devices = await grains.GetGrain<IDeviceRegistryGrain>(IDeviceRegistryGrain.Key).List();
            if (parse.GetValue(json))
            {
                console.Out.WriteLine(JsonSerializer.Serialize(devices.Select(d => new
                {
                    device = d.Registration.DeviceKey, worker = d.Registration.WorkerId, engine = d.Registration.Engine, environment = d.Registration.Environment,
                    online = d.Online, registered_utc = d.RegisteredUtc, last_seen_utc = d.LastSeenUtc,
                }), Json));
                return 0;
            }
            foreach (var d in devices)
                console.Out.WriteLine($"{d.Registration.DeviceKey,-16} {d.Registration.WorkerId,-32} {(d.Online ? "online" : "offline"),-8} {d.Registration.Engine}, " +
                    $"{d.Registration.Environment.GetValueOrDefault("cpu_model", d.Registration.Environment.GetValueOrDefault("architecture", "?"))}, last seen {d.LastSeenUtc:u}");
            if (devices.Count == 0)
                console.Out.WriteLine("no device workers have registered");
            return 0;
        })));
        return command;
    }

    private static Command Cancel(CliConsole console)
    {
        var name = new Argument<string>("name");
        var cluster = ClusterOption();
        var command = new Command("cancel", "Cancel every unfinished candidate of a search.") { name, cluster };
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, () => WithCluster(parse.GetValue(cluster)!, cancellation, async grains =>
        {
            var search = grains.GetGrain<ISearchGrain>(parse.GetValue(name)!);
            if (!(await search.Status()).Submitted)
                throw new BadInputException($"no search named '{parse.GetValue(name)}' on this cluster");
            await search.Cancel();
            console.Out.WriteLine($"search '{parse.GetValue(name)}' cancelled");
            return 0;
        })));
        return command;
    }

    /// <summary>Connects an Orleans client to the gateway, runs <paramref name="body"/>, disconnects.</summary>
    private static async Task<int> WithCluster(string endpoint, CancellationToken cancellation, Func<IGrainFactory, Task<int>> body)
    {
        var parts = endpoint.Split(':');
        if (parts.Length != 2 || !System.Net.IPAddress.TryParse(parts[0] == "localhost" ? "127.0.0.1" : parts[0], out var address) || !int.TryParse(parts[1], out var port))
            throw new BadInputException($"--cluster must be host:port with an IP address, e.g. 127.0.0.1:30000, not '{endpoint}'");
        var builder = NewHostBuilder();
        builder.Logging.ClearProviders();
        // The silo's own keys (e.g. SrMobile__ClusterId in the environment), so one setting serves both.
        var clusterId = builder.Configuration["SrMobile:ClusterId"] ?? SiloHostingExtensions.DefaultClusterId;
        var serviceId = builder.Configuration["SrMobile:ServiceId"] ?? SiloHostingExtensions.DefaultServiceId;
        builder.UseOrleansClient(client => client.UseStaticClustering(new System.Net.IPEndPoint(address, port))
            .Configure<Orleans.Configuration.ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (clusterId, serviceId)));
        using var host = builder.Build();
        // Orleans keeps retrying a gateway for minutes; a command line should say within seconds that it cannot.
        using var connecting = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        connecting.CancelAfter(ConnectTimeout);
        try
        {
            await host.StartAsync(connecting.Token);
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            throw new BadInputException($"--cluster {endpoint}: no gateway answered within {ConnectTimeout.TotalSeconds:F0} s (is a silo running there, with the same SrMobile:ClusterId and ServiceId?)");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new BadInputException($"--cluster {endpoint}: cannot connect ({e.Message})", e);
        }
        try
        {
            return await body(host.Services.GetRequiredService<IClusterClient>());
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>
    /// A host builder rooted at the CLI's own folder: the default content root is the working folder, whose whole tree
    /// a configuration file watcher would follow (thousands of inotify watches from a home folder or a clone).
    /// </summary>
    private static HostApplicationBuilder NewHostBuilder() =>
        Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = AppContext.BaseDirectory });

    /// <summary>The limits the search grain of <paramref name="services"/> (a silo's) holds a submitted spec to.</summary>
    internal static SpecLimits SubmitLimits(IServiceProvider services)
    {
        var limits = services.GetRequiredService<IOptions<LimitsOptions>>().Value;
        return new SpecLimits(limits.MaxCandidates, limits.MaxSpecCharacters, new DataRoots(services.GetRequiredService<IOptions<DataRootOptions>>().Value.DataRoots));
    }

    /// <summary>
    /// The one-machine cluster: every role in this process, durable state under <paramref name="root"/>. Its data roots
    /// are the configured ones (<c>SrMobile:DataRoots</c>) and the folders it legitimately reads: the working folder,
    /// the bundled files beside this program (<c>samples/</c>, <c>options/</c>) and <paramref name="dataRoots"/>.
    /// </summary>
    internal static IHost EmbeddedCluster(string root, int threads, IReadOnlyDictionary<string, string?>? settings = null, IEnumerable<string>? dataRoots = null)
    {
        var builder = NewHostBuilder();
        builder.Logging.ClearProviders();
        // Our own warnings show; Orleans' start-up advice (GC mode, the spurious watchdog warning) would bury the progress.
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Warning)
            .AddFilter("Orleans", LogLevel.Error).AddFilter("Microsoft.Orleans", LogLevel.Error);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["SrMobile:Trainer:WorkFolder"] = Path.Combine(root, "work"),
            ["SrMobile:Trainer:Threads"] = threads.ToString(CultureInfo.InvariantCulture),
            ["SrMobile:Trainer:PollInterval"] = "00:00:00.5",
            ["SrMobile:Device:PollInterval"] = "00:00:00.5",
        });
        if (settings is not null)
            builder.Configuration.AddInMemoryCollection(settings);
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering();
            silo.AddSrMobileRoles(builder.Configuration, [SiloRoles.Coordinator, SiloRoles.Trainer, SiloRoles.Device], Path.Combine(root, "state"));
            silo.Services.PostConfigure<DataRootOptions>(o => o.DataRoots.AddRange([Directory.GetCurrentDirectory(), AppContext.BaseDirectory, .. dataRoots ?? []]));
        });
        return builder.Build();
    }

    /// <summary>
    /// One bar per stage (trained, quantized, measured), with what the trainers are doing now, until every candidate
    /// is done, failed or cancelled.
    /// </summary>
    internal static async Task Follow(CliConsole console, IGrainFactory grains, ISearchGrain search, int total, CancellationToken cancellation)
    {
        var bar = new ProgressBar(console, [("trained  ", total), ("quantized", total), ("measured ", total)]);
        var trainers = grains.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool);
        while (true)
        {
            var status = await search.Status();
            int Count(params CandidateStage[] stages) => stages.Sum(s => status.Stages.GetValueOrDefault(s));
            var measured = Count(CandidateStage.Done);
            var quantized = measured + Count(CandidateStage.Measuring);
            var trained = quantized + Count(CandidateStage.Quantizing);
            var finished = Count(CandidateStage.Done, CandidateStage.Failed, CandidateStage.Cancelled);
            var running = (await trainers.Leased()).Where(j => j.JobId.StartsWith(status.Name + "/", StringComparison.Ordinal))
                .Select(j => j.Progress is { Iteration: > 0 } p
                    ? string.Create(CultureInfo.InvariantCulture, $"{CandidateName(j.JobId)} {p.Stage} it {p.Iteration} loss {p.Loss:F2}{(p.ValidationPsnr is { } v ? $" val {v:F2} dB" : "")}")
                    : $"{CandidateName(j.JobId)} {j.Progress?.Stage ?? "starting"}");
            var details = new[]
            {
                (status.Expanded < status.Candidates && !status.Cancelled ? $"created {status.Expanded}/{status.Candidates}; " : "") + $"queued {Count(CandidateStage.Queued)}; " + string.Join("; ", running),
                "",
                $"failed {Count(CandidateStage.Failed)}{(status.Cancelled ? $", cancelled {Count(CandidateStage.Cancelled)}" : "")}"
                    + string.Concat((status.Stalls ?? []).Select(s => $"; waiting: {s}")),
            };
            long[] values = [trained, quantized, measured];
            // A cancelled search creates no more candidates: it is over once the ones it has are.
            if (status.Finished || finished >= total || (status.Cancelled && finished >= status.Expanded))
            {
                bar.Finish(values, details);
                return;
            }
            bar.Report(values, details);
            await Task.Delay(TimeSpan.FromSeconds(1), cancellation);
        }
    }

    /// <summary><c>x3-m4-c28/qat-300-0.0001</c> of a job id <c>{search}/x3-m4-c28/qat-300-0.0001/{hash}/train</c>.</summary>
    private static string CandidateName(string jobId)
    {
        var parts = jobId.Split('/');
        return parts.Length >= 3 ? $"{parts[1]}/{parts[2]}" : jobId;
    }

    public static async Task PrintFronts(TextWriter writer, IGrainFactory grains, SearchSpec spec)
    {
        foreach (var scale in spec.Scales)
        {
            foreach (var device in spec.Devices)
            {
                var view = await grains.GetGrain<IParetoGrain>($"{spec.Name}/x{scale}/{device}").Get();
                writer.WriteLine($"Pareto front x{scale} on {device}: {view.Front.Count} of {view.All.Count} candidates" +
                    (view.History.Count > 0 ? string.Create(CultureInfo.InvariantCulture, $", hypervolume {view.History[^1].Hypervolume:F1}") : ""));
                writer.WriteLine($"  {"candidate",-48} {"int8 PSNR",9} {"median ms",10} {"MAI score",12}");
                foreach (var point in view.Front)
                {
                    writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {point.CandidateKey,-48} {point.Psnr,9:F2} {point.MedianMs,10:F2} {ParetoMath.MaiScore(point.Psnr, point.MedianMs, spec.MaiConstant),12:G4}"));
                }
            }
        }
    }
}
