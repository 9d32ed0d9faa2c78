using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using SrMobile.Cluster;
using SrMobile.Contracts;
using SrMobile.Engine;
using SrMobile.Grains;
using SrMobile.Grains.Placement;
using SrMobile.Query;
using SrMobile.Hosting;
using SrMobile.Hosting.Web;

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
        var noDashboard = NoDashboardOption();
        var run = new Command("run", "Run a search on an embedded one-machine cluster with its dashboard; run it again to resume.") { spec, workdir, threads, dataRoots, noDashboard };
        run.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, async () =>
        {
            var path = parse.GetValue(spec)!.FullName;
            var text = InputFile.ReadText(path, "search spec");
            // The configurable limits are the cluster's to apply (its configuration may raise them); the rest is checked here.
            var (parsed, errors) = SearchSpecReader.Parse(text, SpecLimits.None);
            if (parsed is null)
                throw new BadInputException($"{path}: the spec has {errors.Count} problem(s):\n  " + string.Join("\n  ", errors));
            var root = parse.GetValue(workdir)?.FullName ?? Path.Combine(Directory.GetCurrentDirectory(), ".srmobile");
            var dashboard = !parse.GetValue(noDashboard);
            using var host = EmbeddedCluster(root, parse.GetValue(threads), dataRoots: (parse.GetValue(dataRoots) ?? []).Select(d => d.FullName), web: dashboard);
            // The cluster's own limits and roots, checked before it starts: a refused spec leaves no state folder behind.
            var (_, refused) = SearchSpecReader.Parse(text, SubmitLimits(host.Services));
            if (refused.Count > 0)
                throw new BadInputException($"{path}: the spec has {refused.Count} problem(s):\n  " + string.Join("\n  ", refused));
            await host.StartAsync(cancellation);
            try
            {
                var service = new SearchService(host.Services.GetRequiredService<IGrainFactory>());
                var submitted = (await service.Submit(text, cancellation)).Result;
                if (!submitted.Accepted)
                    throw new BadInputException($"{path}: " + string.Join("; ", submitted.Errors));
                console.Error.WriteLine(submitted.Created
                    ? $"search '{parsed.Name}': {submitted.Candidates} candidates, state in {root}"
                    : $"search '{parsed.Name}' resumes: {submitted.Candidates} candidates, state in {root}");
                var url = dashboard ? DashboardUrl(host, parsed.Name) : null;
                if (url is not null)
                    console.Error.WriteLine($"dashboard: {url}");
                await Follow(console, service, parsed.Name, submitted.Candidates, cancellation);
                PrintFronts(console.Out, (await service.Fronts(parsed.Name, cancellation: cancellation))!);
                if (url is not null)
                    await KeepServing(console, url, cancellation);
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
        command.Subcommands.Add(Fetch(console));
        return command;
    }

    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(20);

    internal static Option<string> ClusterOption() => new("--cluster")
    {
        Description = "Gateway of a running cluster, host:port (srmobile-silo listens on 127.0.0.1:30000)",
        DefaultValueFactory = _ => "127.0.0.1:30000",
    };

    /// <summary>Where a subcommand reaches the cluster: a gateway (<c>--cluster</c>) or the coordinator's HTTP API (<c>--api</c>, which wins when given).</summary>
    internal sealed record Target(Option<string> Cluster, Option<string?> Api, Option<string?> ApiKey)
    {
        public static Target Create() => new(ClusterOption(),
            // Text, checked by WithApi: System.CommandLine has no converter for Uri (a Uri option fails on every value).
            new Option<string?>("--api") { Description = "The coordinator's HTTP API, e.g. http://127.0.0.1:8080 (instead of --cluster)" },
            new Option<string?>("--api-key") { Description = "API key for writes through --api (default: the SRMOBILE_API_KEY environment variable)" });

        public void AddTo(Command command)
        {
            command.Options.Add(Cluster);
            command.Options.Add(Api);
            command.Options.Add(ApiKey);
        }

        public Task<int> Run(ParseResult parse, CancellationToken cancellation, Func<ISearchService, Task<int>> body) =>
            parse.GetValue(Api) is { } api
                ? WithApi<int>(api, parse.GetValue(ApiKey) ?? Environment.GetEnvironmentVariable("SRMOBILE_API_KEY"), client => body(client))
                : WithCluster(parse.GetValue(Cluster)!, cancellation, grains => body(new SearchService(grains)));
    }

    private static Command Submit(CliConsole console)
    {
        var spec = new Argument<FileInfo>("spec");
        var target = Target.Create();
        var json = new Option<bool>("--json");
        var command = new Command("submit", "Validate a spec and submit it to a running cluster (submitting it again is a no-op).") { spec, json };
        target.AddTo(command);
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, () => target.Run(parse, cancellation, async service =>
        {
            var path = parse.GetValue(spec)!.FullName;
            var text = InputFile.ReadText(path, "search spec");
            // The configurable limits are the cluster's to apply (its configuration may raise them); the rest is checked here.
            var (parsed, errors) = SearchSpecReader.Parse(text, SpecLimits.None);
            if (parsed is null)
                throw new BadInputException($"{path}: the spec has {errors.Count} problem(s):\n  " + string.Join("\n  ", errors));
            var result = (await service.Submit(text, cancellation)).Result;
            if (!result.Accepted)
                throw new BadInputException($"{path}: " + string.Join("; ", result.Errors));
            console.Out.WriteLine(parse.GetValue(json)
                ? JsonSerializer.Serialize(new { name = parsed.Name, result.Created, result.Candidates }, SrMobileCommand.Json)
                : $"search '{parsed.Name}': {result.Candidates} candidates{(result.Created ? "" : " (already submitted)")}");
            return 0;
        })));
        return command;
    }

    private static Command Status(CliConsole console)
    {
        var name = new Argument<string>("name");
        var target = Target.Create();
        var json = new Option<bool>("--json");
        var command = new Command("status", "Candidates by stage.") { name, json };
        target.AddTo(command);
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, () => target.Run(parse, cancellation, async service =>
        {
            var status = (await service.Overview(parse.GetValue(name)!, cancellation))?.Status
                ?? throw new BadInputException($"no search named '{parse.GetValue(name)}' on this cluster");
            var stages = Enum.GetValues<CandidateStage>().ToDictionary(s => s.ToString().ToLowerInvariant(), s => status.Stages.GetValueOrDefault(s));
            console.Out.WriteLine(parse.GetValue(json)
                ? JsonSerializer.Serialize(new
                {
                    name = status.Name, cancelled = status.Cancelled, finished = status.Finished, candidates = status.Candidates, created = status.Expanded, stages,
                    confirming_fronts = status.Confirming,
                    waiting = (status.Stalls ?? []).Select(s => new { pool = s.Pool, reason = s.Reason, jobs = s.Waiting, since = s.SinceUtc, waited_seconds = Math.Round((DateTimeOffset.UtcNow - s.SinceUtc).TotalSeconds) }),
                }, SrMobileCommand.Json)
                : $"{status.Name}{(status.Cancelled ? " (cancelled)" : "")}{(status.Finished ? " (finished)" : "")}: {status.Expanded} of {status.Candidates} candidates created; "
                    + string.Join(", ", stages.Select(s => $"{s.Key} {s.Value}"))
                    + (status.Confirming > 0 ? $"; confirming {status.Confirming} front(s) (their near-front candidates re-measured interleaved)" : "")
                    + string.Concat((status.Stalls ?? []).Select(s => $"{Environment.NewLine}waiting: {s}")));
            return 0;
        })));
        return command;
    }

    private static Command Pareto(CliConsole console)
    {
        var name = new Argument<string>("name");
        var target = Target.Create();
        var csv = new Option<FileInfo?>("--csv") { Description = "Also write every front as CSV (" + FrontCsv.Header + ")" };
        var json = new Option<bool>("--json");
        var command = new Command("pareto", "The Pareto front per scale and device key.") { name, csv, json };
        target.AddTo(command);
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, () => target.Run(parse, cancellation, async service =>
        {
            var fronts = await service.Fronts(parse.GetValue(name)!, cancellation: cancellation)
                ?? throw new BadInputException($"no search named '{parse.GetValue(name)}' on this cluster");
            if (parse.GetValue(csv) is { } file)
                await File.WriteAllTextAsync(file.FullName, FrontCsv.Write(fronts), cancellation);
            if (parse.GetValue(json))
                console.Out.WriteLine(JsonSerializer.Serialize(fronts.Select(f => new
                {
                    f.Scale, f.Device, front = f.Front.Select(p => new { p.CandidateKey, p.Psnr, p.MedianMs }), hypervolume = f.Hypervolume,
                }), SrMobileCommand.Json));
            else
                PrintFronts(console.Out, fronts);
            return 0;
        })));
        return command;
    }

    private static Command Fetch(CliConsole console)
    {
        var name = new Argument<string>("name");
        var key = new Argument<string>("key") { Description = "The candidate's key, whole or without the search's name (x3-m4-c28/ptq-minmax-100/HASH)" };
        var output = new Option<DirectoryInfo>("--out") { Description = "Folder to write the model to", Required = true };
        var kind = new Option<string>("--kind")
        {
            Description = $"Which artifact: {string.Join(", ", ArtifactKinds.All)}",
            DefaultValueFactory = _ => ArtifactKinds.Int8Onnx,
        };
        kind.AcceptOnlyFromAmong([.. ArtifactKinds.All]);
        var target = Target.Create();
        var command = new Command("fetch", "Download a candidate's model (the int8 ONNX by default), its SHA-256 checked.") { name, key, output, kind };
        target.AddTo(command);
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, async () =>
        {
            var (search, candidate, folder, what) = (parse.GetValue(name)!, parse.GetValue(key)!, parse.GetValue(output)!.FullName, parse.GetValue(kind)!);
            string? path;
            if (parse.GetValue(target.Api) is { } api)
                path = await WithApi(api, null, client => client.Download(search, candidate, what, folder, cancellation));
            else
                path = await WithCluster(parse.GetValue(target.Cluster)!, cancellation, async grains =>
                    await new SearchService(grains).Artifact(search, candidate, what) is { } artifact ? await FromStore(artifact, folder, cancellation) : null);
            if (path is null)
                throw new BadInputException($"search '{search}' has no candidate '{candidate}' with a {what} artifact (is it trained?)");
            console.Out.WriteLine(path);
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// Reads an artifact the way a silo does, from the store its settings name (<c>SrMobile:Storage:*</c>, the same keys
    /// and environment variables as the silo's), checks its SHA-256 and copies it into <paramref name="folder"/>.
    /// </summary>
    private static async Task<string> FromStore(Artifact artifact, string folder, CancellationToken cancellation)
    {
        var configuration = NewHostBuilder().Configuration;
        var store = ClusterHostingExtensions.ArtifactStore(configuration, ClusterHostingExtensions.DataFolder(configuration));
        Directory.CreateDirectory(folder);
        var download = Path.Combine(folder, $".download-{Guid.NewGuid():N}");
        try
        {
            var fetched = await store.Fetch(artifact, download, cancellation);
            var path = Path.Combine(folder, Path.GetFileName(fetched));
            File.Copy(fetched, path, overwrite: true);
            return path;
        }
        finally
        {
            if (Directory.Exists(download))
                Directory.Delete(download, recursive: true);
        }
    }

    private static Command Cancel(CliConsole console)
    {
        var name = new Argument<string>("name");
        var target = Target.Create();
        var command = new Command("cancel", "Cancel every unfinished candidate of a search.") { name };
        target.AddTo(command);
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, () => target.Run(parse, cancellation, async service =>
        {
            if (!await service.Cancel(parse.GetValue(name)!, cancellation))
                throw new BadInputException($"no search named '{parse.GetValue(name)}' on this cluster");
            console.Out.WriteLine($"search '{parse.GetValue(name)}' cancelled");
            return 0;
        })));
        return command;
    }

    /// <summary>Runs <paramref name="body"/> against the HTTP API at <paramref name="text"/>; its refusals (401, 403, 5xx) become bad input naming the status.</summary>
    private static async Task<T> WithApi<T>(string text, string? apiKey, Func<SearchApiClient, Task<T>> body)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var api) || api.Scheme is not ("http" or "https"))
            throw new BadInputException($"--api must be an http(s) URL, e.g. http://127.0.0.1:8080, not '{text}'");
        using var http = new HttpClient { BaseAddress = new Uri(api.AbsoluteUri.TrimEnd('/') + "/"), Timeout = TimeSpan.FromMinutes(10) };
        try
        {
            return await body(new SearchApiClient(http, apiKey));
        }
        catch (SearchApiException e)
        {
            throw new BadInputException($"--api {api}: {e.Message}", e);
        }
        catch (HttpRequestException e)
        {
            throw new BadInputException($"--api {api}: cannot connect ({e.Message})", e);
        }
    }

    /// <summary>Connects an Orleans client to the gateway, runs <paramref name="body"/>, disconnects.</summary>
    internal static async Task<T> WithCluster<T>(string endpoint, CancellationToken cancellation, Func<IGrainFactory, Task<T>> body)
    {
        var parts = endpoint.Split(':');
        if (parts.Length != 2 || !System.Net.IPAddress.TryParse(parts[0] == "localhost" ? "127.0.0.1" : parts[0], out var address) || !int.TryParse(parts[1], out var port))
            throw new BadInputException($"--cluster must be host:port with an IP address, e.g. 127.0.0.1:30000, not '{endpoint}'");
        var builder = NewHostBuilder();
        builder.Logging.ClearProviders();
        // The silo's own keys (e.g. SrMobile__ClusterId in the environment), so one setting serves both.
        var clusterId = builder.Configuration["SrMobile:ClusterId"] ?? ClusterHostingExtensions.DefaultClusterId;
        var serviceId = builder.Configuration["SrMobile:ServiceId"] ?? ClusterHostingExtensions.DefaultServiceId;
        builder.UseOrleansClient(client => client.UseStaticClustering(new System.Net.IPEndPoint(address, port))
            .Configure<Orleans.Configuration.ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (clusterId, serviceId))
            // A TLS gateway (deploy/k8s) wants a client certificate of the cluster's CA: the same SrMobile:Tls keys as a silo's.
            .UseSrMobileTls(builder.Configuration));
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
    /// With <paramref name="web"/> it is also the coordinator's web host (dashboard, API, /metrics) on
    /// <c>SrMobile:Http</c>, 127.0.0.1:8080 by default or a free port when that one is taken.
    /// </summary>
    internal static IHost EmbeddedCluster(string root, int threads, IReadOnlyDictionary<string, string?>? settings = null, IEnumerable<string>? dataRoots = null, bool web = false)
    {
        // Without the dashboard no web server starts at all (a WebApplication would listen on a default port).
        IHostApplicationBuilder builder = web
            ? WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, Args = [] })
            : NewHostBuilder();
        builder.Logging.ClearProviders();
        // Our own warnings show; Orleans' start-up advice (GC mode, the spurious watchdog warning) would bury the progress.
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Warning)
            .AddFilter("Orleans", LogLevel.Error).AddFilter("Microsoft.Orleans", LogLevel.Error).AddFilter("Microsoft.AspNetCore", LogLevel.Error);
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
        if (builder is not WebApplicationBuilder webBuilder)
            return ((HostApplicationBuilder)builder).Build();
        var port = builder.Configuration.GetValue("SrMobile:Http:Port", 8080);
        if (port != 0 && !PortIsFree(port))
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["SrMobile:Http:Port"] = "0" });
        webBuilder.AddSrMobileWeb();
        var app = webBuilder.Build();
        app.MapSrMobileWeb();
        return app;
    }

    private static bool PortIsFree(int port)
    {
        try
        {
            using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
            probe.Start();
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    /// <summary>The <c>--no-dashboard</c> option of the commands that run the embedded cluster.</summary>
    internal static Option<bool> NoDashboardOption() => new("--no-dashboard")
    {
        Description = "Do not serve the dashboard (by default it is on 127.0.0.1:8080, or a free port, and keeps serving after the search until Ctrl-C)",
    };

    /// <summary>The dashboard's address of <paramref name="search"/> on a started embedded cluster.</summary>
    internal static string DashboardUrl(IHost host, string search)
    {
        var address = host.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First();
        return $"{address.TrimEnd('/')}/searches/{Uri.EscapeDataString(search)}";
    }

    /// <summary>After the search: the dashboard keeps serving until Ctrl-C (the command's cancellation).</summary>
    internal static async Task KeepServing(CliConsole console, string url, CancellationToken cancellation)
    {
        console.Error.WriteLine($"the dashboard keeps serving at {url}; Ctrl-C to stop");
        try
        {
            await Task.Delay(Timeout.Infinite, cancellation);
        }
        catch (OperationCanceledException)
        {
            // Ctrl-C: the normal end.
        }
    }

    /// <summary>
    /// One bar per stage (trained, quantized, measured), with what the trainers are doing now, until every candidate
    /// is done, failed or cancelled.
    /// </summary>
    internal static async Task Follow(CliConsole console, SearchService service, string name, int total, CancellationToken cancellation)
    {
        var bar = new ProgressBar(console, [("trained  ", total), ("quantized", total), ("measured ", total)]);
        while (true)
        {
            var (status, training) = await service.Progress(name);
            int Count(params CandidateStage[] stages) => stages.Sum(s => status.Stages.GetValueOrDefault(s));
            var measured = Count(CandidateStage.Done);
            var quantized = measured + Count(CandidateStage.Measuring);
            var trained = quantized + Count(CandidateStage.Quantizing);
            var finished = Count(CandidateStage.Done, CandidateStage.Failed, CandidateStage.Cancelled);
            var running = training
                .Select(j => j.Progress is { Iteration: > 0 } p
                    ? string.Create(CultureInfo.InvariantCulture, $"{CandidateName(j.JobId)} {p.Stage} it {p.Iteration} loss {p.Loss:F2}{(p.ValidationPsnr is { } v ? $" val {v:F2} dB" : "")}")
                    : $"{CandidateName(j.JobId)} {j.Progress?.Stage ?? "starting"}");
            var details = new[]
            {
                (status.Expanded < status.Candidates && !status.Cancelled ? $"created {status.Expanded}/{status.Candidates}; " : "") + $"queued {Count(CandidateStage.Queued)}; " + string.Join("; ", running),
                "",
                $"failed {Count(CandidateStage.Failed)}{(status.Cancelled ? $", cancelled {Count(CandidateStage.Cancelled)}" : "")}"
                    + (status.Confirming > 0 ? $"; confirming {status.Confirming} front(s)" : "")
                    + string.Concat((status.Stalls ?? []).Select(s => $"; waiting: {s}")),
            };
            long[] values = [trained, quantized, measured];
            // A cancelled search creates no more candidates: it is over once the ones it has are. Otherwise it is over
            // once its fronts are confirmed too.
            if (status.Finished || (status.Cancelled && finished >= status.Expanded))
            {
                bar.Finish(values, details);
                return;
            }
            bar.Report(values, details);
            await Task.Delay(TimeSpan.FromSeconds(1), cancellation);
        }
    }

    /// <summary>The same over a grain factory (<c>bench search</c> follows its search this way).</summary>
    internal static Task Follow(CliConsole console, IGrainFactory grains, ISearchGrain search, int total, CancellationToken cancellation) =>
        Follow(console, new SearchService(grains), search.GetPrimaryKeyString(), total, cancellation);

    /// <summary><c>x3-m4-c28/qat-300-0.0001</c> of a job id <c>{search}/x3-m4-c28/qat-300-0.0001/{hash}/train</c>.</summary>
    private static string CandidateName(string jobId)
    {
        var parts = jobId.Split('/');
        return parts.Length >= 3 ? $"{parts[1]}/{parts[2]}" : jobId;
    }

    public static void PrintFronts(TextWriter writer, IReadOnlyList<FrontView> fronts)
    {
        foreach (var front in fronts)
        {
            writer.WriteLine($"Pareto front x{front.Scale} on {front.Device}: {front.Front.Count} of {front.All.Count} candidates" +
                (front.History.Count > 0 ? string.Create(CultureInfo.InvariantCulture, $", hypervolume {front.Hypervolume:F1}") : "") + Confirmation(front.Confirmation));
            writer.WriteLine($"  {"candidate",-48} {"int8 PSNR",9} {"median ms",10} {"MAI score",12} {"first ms",9}");
            foreach (var point in front.Front)
                writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {point.CandidateKey,-48} {point.Psnr,9:F2} {point.MedianMs,10:F2} {point.MaiScore,12:G4} {(point.FirstMs is { } first ? first.ToString("F2", CultureInfo.InvariantCulture) : "-"),9}"));
        }
    }

    private static string Confirmation(FrontConfirmation? confirmation) => confirmation switch
    {
        { Status: ConfirmationStatus.Confirmed, Candidates.Count: > 1 } c => $"; {c.Candidates.Count} near-front candidates confirmed interleaved (median ms; first ms is their own measurement)",
        { Status: ConfirmationStatus.Running } c => $"; confirming {c.Candidates.Count} near-front candidates",
        { Status: ConfirmationStatus.GaveUp } c => $"; not confirmed: {c.Error}",
        _ => "",
    };
}
