using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using SrMobile.Contracts;
using SrMobile.Engine.Onnx;
using SrMobile.Query;

// The device agent as a board runs it (docs/BENCHMARKS.md), against a real srmobile-silo (coordinator and trainer, the
// local storage kind) on 127.0.0.1, over the gateway with a join token and nothing else:
//   1. the agent's memory while idle (joined, polling);
//   2. --copies candidates of one architecture (one graph, PTQ recipes that differ only in their calibration count),
//      trained first and then measured by the agent in separate jobs, each in its engine child: the spread of those
//      medians (repeatability of the protocol across jobs), the confirmed medians of the front's interleaved run, and
//      the agent's peak memory with its engine child while measuring;
//   3. the same model measured by this process with the engine's own protocol (what `srmobile bench` runs), --copies
//      times: the agent's median against it;
//   4. how long a measurement job waits between its enqueue and the agent's lease (the queue-wait histogram of /metrics).
var copies = Arg("--copies", 5);
var input = Text("--input", "360x640");
var minSeconds = Arg("--min-seconds", 5);
const string ApiKey = "bench-key";
const string Device = "bench-agent";
var root = RepositoryRoot();
var work = Directory.CreateTempSubdirectory("srmobile-agent-bench-");
var (gateway, http) = (FreePort(), FreePort());
var children = new List<Process>();
var token = "";
Console.WriteLine($"agent benchmark: {copies} copies of x3 m4 C28 at {input}, work in {work.FullName}");

try
{
    var silo = Start("silo", [Path.Combine(AppContext.BaseDirectory, "srmobile-silo.dll")], new()
    {
        ["SrMobile__Roles__0"] = "coordinator",
        ["SrMobile__Roles__1"] = "trainer",
        ["SrMobile__DataFolder"] = Path.Combine(work.FullName, "state"),
        ["SrMobile__SiloPort"] = FreePort().ToString(CultureInfo.InvariantCulture),
        ["SrMobile__GatewayPort"] = gateway.ToString(CultureInfo.InvariantCulture),
        ["SrMobile__Http__Port"] = http.ToString(CultureInfo.InvariantCulture),
        ["SrMobile__Auth__ApiKeys__0"] = ApiKey,
        ["SrMobile__DataRoots__0"] = root,
        ["SrMobile__Trainer__WorkFolder"] = Path.Combine(work.FullName, "trainer"),
    });
    using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}/"), Timeout = TimeSpan.FromSeconds(30) };
    var api = new SearchApiClient(client, ApiKey);
    await Until("the coordinator is ready", async () => (await client.GetAsync("healthz/ready")).IsSuccessStatusCode, TimeSpan.FromMinutes(2), silo);

    using var tokenRequest = new HttpRequestMessage(HttpMethod.Post, "api/devices/tokens") { Content = JsonContent.Create(new { device_key = Device }) };
    tokenRequest.Headers.Add(SearchApiClient.ApiKeyHeader, ApiKey);
    var issued = await (await client.SendAsync(tokenRequest)).EnsureSuccessStatusCode().Content.ReadFromJsonAsync<JsonElement>();
    token = issued.GetProperty("secret").GetString()!;

    // 1. Idle: joined, polling for work.
    var idleAgent = StartAgent("idle");
    await Until("the agent joined", async () => (await api.Devices()).Workers.Any(w => w.Registration.WorkerId == "idle" && w.Online), TimeSpan.FromMinutes(2), idleAgent);
    await Task.Delay(TimeSpan.FromSeconds(5)); // its canary ran at start
    var idle = await SampleRss(idleAgent, TimeSpan.FromSeconds(15));
    Stop(idleAgent);

    // 2. One graph in several candidates, trained while no agent runs, then measured job by job and confirmed.
    var name = "agent-bench";
    var recipes = string.Join(", ", Enumerable.Range(1, copies).Select(n => $"{{kind: ptq, calibration_images: {n}}}"));
    var submitted = await api.Submit($$"""
        name: {{name}}
        scales: [3]
        depths: [4]
        widths: [28]
        quantization: [{{recipes}}]
        training: {iterations: 60, batch_size: 4, patch_size: 24}
        datasets: {train: "{{Path.Combine(root, "samples", "train")}}", validation: "{{Path.Combine(root, "samples", "test")}}"}
        devices: [{{Device}}]
        protocol: {input: {{input}}, warmup: 5, min_runs: 20, min_seconds: {{minSeconds}}}
        """);
    if (!submitted.Result.Accepted)
        throw new InvalidOperationException(string.Join("; ", submitted.Result.Errors));
    await Until("every candidate trained", async () => (await api.Overview(name))!.Status.Stages.GetValueOrDefault(CandidateStage.Measuring) == copies, TimeSpan.FromMinutes(20), silo);
    var agent = StartAgent("measuring");
    var peak = SampleRss(agent, TimeSpan.FromHours(1), includeChildren: true, until: () => agent.HasExited);
    await Until("the search finished (fronts confirmed)", async () => (await api.Overview(name))!.Status.Finished, TimeSpan.FromMinutes(30), agent);
    var measuring = await StopSampling(peak, agent);

    var overview = (await api.Overview(name))!;
    var front = overview.Fronts.Single();
    var separate = new List<(string Key, double Ms, double Cov)>();
    foreach (var point in front.All)
    {
        var measured = (await api.Candidate(name, point.CandidateKey))!.Candidate.Measurements.Single();
        separate.Add((point.CandidateKey, measured.MedianMs, measured.Cov));
    }
    var confirmed = front.All.Where(p => p.FirstMs is not null).Select(p => p.MedianMs).ToList();

    // 3. The same model under the same protocol in this process, as `srmobile bench --onnx` runs it.
    var model = await api.Download(name, separate[0].Key, ArtifactKinds.Int8Onnx, Path.Combine(work.FullName, "model"))
        ?? throw new InvalidOperationException("no int8 model to download");
    var size = input.Split('x').Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray();
    var protocol = new LatencyProtocol { Height = size[0], Width = size[1], Warmup = 5, MinRuns = 20, MinSeconds = minSeconds, MaxSeconds = 120 };
    var here = Enumerable.Range(0, copies).Select(_ => LatencyMeasurement.Measure([model], protocol)[0].MedianMs).ToList();

    // 4. Enqueue to lease, with the agent idle and polling: one more candidate, trained while the agent waits.
    var waitAgent = StartAgent("waiting");
    var afterMeasuring = await QueueWait(client);
    var quick = await api.Submit($$"""
        name: agent-bench-wait
        scales: [3]
        depths: [1]
        widths: [8]
        quantization: [{kind: ptq, calibration_images: 1}, {kind: ptq, calibration_images: 2}, {kind: ptq, calibration_images: 3}]
        training: {iterations: 20, batch_size: 4, patch_size: 24}
        datasets: {train: "{{Path.Combine(root, "samples", "train")}}"}
        devices: [{{Device}}]
        protocol: {input: 24x32, warmup: 1, min_runs: 3, min_seconds: 0}
        """);
    if (!quick.Result.Accepted)
        throw new InvalidOperationException(string.Join("; ", quick.Result.Errors));
    await Until("the waiting search finished", async () => (await api.Overview("agent-bench-wait"))!.Status.Finished, TimeSpan.FromMinutes(10), waitAgent);
    var afterWaiting = await QueueWait(client);
    Stop(waitAgent);

    static string Ms(double v) => v.ToString("F2", CultureInfo.InvariantCulture);
    static string Pct(double v) => (100 * v).ToString("F1", CultureInfo.InvariantCulture) + " %";
    var agentMean = separate.Average(s => s.Ms);
    Console.WriteLine();
    Console.WriteLine($"agent RSS idle: median {idle.Median / 1048576.0:F0} MB, max {idle.Max / 1048576.0:F0} MB");
    Console.WriteLine($"agent RSS while measuring (agent + engine child): max {measuring.Max / 1048576.0:F0} MB");
    Console.WriteLine($"separate jobs on the agent ({separate.Count}): {string.Join(", ", separate.Select(s => Ms(s.Ms)))} ms; CoV of the medians {Pct(Cov(separate.Select(s => s.Ms)))}, spread {Pct(Spread(separate.Select(s => s.Ms)))}; each run's CoV {string.Join(", ", separate.Select(s => Pct(s.Cov)))}");
    Console.WriteLine($"confirmed interleaved ({confirmed.Count}): {string.Join(", ", confirmed.Select(Ms))} ms; spread {Pct(Spread(confirmed))}");
    Console.WriteLine($"this process, engine protocol ({here.Count} runs): {string.Join(", ", here.Select(Ms))} ms; CoV of the medians {Pct(Cov(here))}");
    Console.WriteLine($"agent vs this process: {Ms(agentMean)} / {Ms(here.Average())} ms = {(agentMean / here.Average()).ToString("F3", CultureInfo.InvariantCulture)}");
    var (count, sum) = (afterWaiting.Count - afterMeasuring.Count, afterWaiting.Sum - afterMeasuring.Sum);
    Console.WriteLine($"enqueue to lease on device/{Device} with the agent polling: {count} jobs, mean {(count > 0 ? sum / count : double.NaN).ToString("F2", CultureInfo.InvariantCulture)} s (poll interval 2 s)");
    return 0;
}
finally
{
    foreach (var child in children.Where(c => !c.HasExited))
        child.Kill(entireProcessTree: true);
}

Process StartAgent(string agentName) => Start(agentName, [Path.Combine(AppContext.BaseDirectory, "srmobile-agent.dll"),
    "--cluster", $"127.0.0.1:{gateway}", "--name", agentName, "--work", Path.Combine(work.FullName, agentName), "--http-port", FreePort().ToString(CultureInfo.InvariantCulture)],
    new() { ["SrMobile__Agent__Token"] = token });

Process Start(string label, string[] arguments, Dictionary<string, string> environment)
{
    var start = new ProcessStartInfo("dotnet", arguments) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = work.FullName };
    start.Environment["Logging__LogLevel__Default"] = "Warning";
    start.Environment["Logging__LogLevel__SrMobile"] = "Information";
    foreach (var (key, value) in environment)
        start.Environment[key] = value;
    var process = Process.Start(start)!;
    var log = new StreamWriter(Path.Combine(work.FullName, $"{label}.log")) { AutoFlush = true };
    process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
    process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
    process.BeginOutputReadLine();
    process.BeginErrorReadLine();
    children.Add(process);
    return process;
}

static void Stop(Process process)
{
    // SIGTERM: the agent hands back whatever it holds and leaves.
    Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
    if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
        process.Kill(entireProcessTree: true);
}

async Task Until(string what, Func<Task<bool>> done, TimeSpan within, Process watched)
{
    var deadline = DateTime.UtcNow + within;
    while (DateTime.UtcNow < deadline)
    {
        if (watched.HasExited)
            throw new InvalidOperationException($"waiting for {what}: the process exited with {watched.ExitCode} (logs in {work.FullName})");
        try
        {
            if (await done())
                return;
        }
        catch (HttpRequestException)
        {
            // Not listening yet.
        }
        await Task.Delay(500);
    }
    throw new TimeoutException($"{what}: not within {within} (logs in {work.FullName})");
}

// The resident memory of a process (and of its children: the engine runs in one), sampled every 200 ms.
static Task<(long Median, long Max)> SampleRss(Process process, TimeSpan duration, bool includeChildren = false, Func<bool>? until = null) => Task.Run(async () =>
{
    var samples = new List<long>();
    var clock = Stopwatch.StartNew();
    while (clock.Elapsed < duration && !(until?.Invoke() ?? false) && !process.HasExited)
    {
        var pids = includeChildren ? [process.Id, .. Children(process.Id)] : new[] { process.Id };
        samples.Add(pids.Sum(Rss));
        await Task.Delay(200);
    }
    samples.Sort();
    return samples.Count == 0 ? (0L, 0L) : (samples[samples.Count / 2], samples[^1]);
});

static async Task<(long Median, long Max)> StopSampling(Task<(long Median, long Max)> sampling, Process agent)
{
    Stop(agent);
    return await sampling;
}

// A child is listed under the thread that started it (the engine child: a thread-pool thread), so every thread is read.
static IEnumerable<int> Children(int parent)
{
    var direct = new List<int>();
    try
    {
        foreach (var task in Directory.GetDirectories($"/proc/{parent}/task"))
        {
            var path = Path.Combine(task, "children");
            if (File.Exists(path))
                direct.AddRange(File.ReadAllText(path).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse));
        }
    }
    catch (IOException)
    {
        // The process or one of its threads ended while being read.
    }
    catch (UnauthorizedAccessException)
    {
    }
    return direct.Concat(direct.SelectMany(Children));
}

static long Rss(int pid)
{
    try
    {
        var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }
    catch (IOException)
    {
        return 0; // it ended between the listing and the read
    }
}

// The queue-wait histogram of the device pool, as the coordinator's /metrics exports it: (jobs leased, seconds waited).
static async Task<(double Count, double Sum)> QueueWait(HttpClient client)
{
    var text = await client.GetStringAsync("metrics");
    double Read(string series) => text.Split('\n')
        .Where(l => l.StartsWith(series, StringComparison.Ordinal) && l.Contains($"pool=\"device/{Device}\"", StringComparison.Ordinal))
        .Select(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture)).Sum();
    return (Read("srmobile_queue_wait_seconds_count"), Read("srmobile_queue_wait_seconds_sum"));
}

static double Cov(IEnumerable<double> values)
{
    var list = values.ToList();
    var mean = list.Average();
    return list.Count < 2 ? 0 : Math.Sqrt(list.Sum(v => (v - mean) * (v - mean)) / (list.Count - 1)) / mean;
}

static double Spread(IEnumerable<double> values)
{
    var list = values.ToList();
    return list.Count == 0 ? 0 : list.Max() / list.Min() - 1;
}

static int FreePort()
{
    using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
    listener.Start();
    return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
}

static string RepositoryRoot()
{
    for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        if (File.Exists(Path.Combine(folder.FullName, "SrMobile.sln")))
            return folder.FullName;
    throw new InvalidOperationException("run from the repository (SrMobile.sln not found above the benchmark)");
}

int Arg(string name, int fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() is { } value ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;

string Text(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
