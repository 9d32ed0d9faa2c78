using System.Diagnostics;
using System.Text.Json.Serialization;

namespace SrMobile.Engine.Onnx;

/// <summary>
/// How a latency is measured: warm-up runs, then runs until both the minimum count and the minimum duration are
/// reached (capped by the maximum duration). This record travels with every latency SrMobile stores.
/// </summary>
public sealed record LatencyProtocol
{
    [JsonPropertyName("input_height")] public int Height { get; init; } = 360;
    [JsonPropertyName("input_width")] public int Width { get; init; } = 640;
    [JsonPropertyName("threads")] public int Threads { get; init; } = 1;
    [JsonPropertyName("provider")] public string Provider { get; init; } = "cpu";
    [JsonPropertyName("warmup")] public int Warmup { get; init; } = 5;
    [JsonPropertyName("min_runs")] public int MinRuns { get; init; } = 20;
    [JsonPropertyName("min_seconds")] public double MinSeconds { get; init; } = 5;
    [JsonPropertyName("max_seconds")] public double MaxSeconds { get; init; } = 120;

    public LatencyProtocol Validate()
    {
        if (Height < 1 || Width < 1)
            throw new BadInputException($"--input must be a positive HxW, not {Height}x{Width}");
        if (Threads < 1)
            throw new BadInputException($"--threads must be at least 1, not {Threads}");
        if (Warmup < 0 || MinRuns < 1)
            throw new BadInputException($"--warmup must be ≥ 0 and --min-runs ≥ 1 (got {Warmup}, {MinRuns})");
        if (MinSeconds < 0 || MaxSeconds <= 0 || MaxSeconds < MinSeconds)
            throw new BadInputException($"--max-seconds ({MaxSeconds}) must be positive and at least --min-seconds ({MinSeconds})");
        return this;
    }
}

/// <summary>One measured latency with the protocol and environment that produced it.</summary>
public sealed record LatencyResult
{
    [JsonPropertyName("model")] public required string Model { get; init; }
    [JsonPropertyName("median_ms")] public required double MedianMs { get; init; }
    [JsonPropertyName("p90_ms")] public required double P90Ms { get; init; }
    [JsonPropertyName("p99_ms")] public required double P99Ms { get; init; }
    [JsonPropertyName("mean_ms")] public required double MeanMs { get; init; }
    [JsonPropertyName("std_ms")] public required double StdMs { get; init; }

    /// <summary>The coefficient of variation of the runs: std / mean.</summary>
    [JsonPropertyName("cov")] public double Cov => MeanMs > 0 ? StdMs / MeanMs : double.NaN;
    [JsonPropertyName("min_ms")] public required double MinMs { get; init; }
    [JsonPropertyName("max_ms")] public required double MaxMs { get; init; }
    [JsonPropertyName("runs")] public required int Runs { get; init; }
    [JsonPropertyName("session_ms")] public required double SessionMs { get; init; }
    [JsonPropertyName("first_run_ms")] public required double FirstRunMs { get; init; }
    [JsonPropertyName("threads")] public required int Threads { get; init; }
    [JsonPropertyName("engine")] public required string Engine { get; init; }
    [JsonPropertyName("provider")] public required string Provider { get; init; }

    /// <summary>The exact rewrites the engine made to the stored graph before timing it (<see cref="SrEngine.Fitted"/>, as <see cref="GraphFitting.Format"/> writes it); null in records made before there were any.</summary>
    [JsonPropertyName("graph_fit")] public string? GraphFit { get; init; }
    [JsonPropertyName("protocol")] public required LatencyProtocol Protocol { get; init; }
    [JsonPropertyName("environment")] public required IReadOnlyDictionary<string, string> Environment { get; init; }
}

/// <summary>A model to measure and the fit its sessions get (null: this CPU's, <see cref="GraphFitting.Host"/>).</summary>
public sealed record MeasuredModel(string Path, GraphFit? Fit = null)
{
    public static implicit operator MeasuredModel(string path) => new(path);
}

public static class LatencyMeasurement
{
    /// <summary>How many load orders a measurement of several models goes through (<see cref="LoadOrders"/>).</summary>
    public const int MaxPasses = 8;

    /// <summary>
    /// Measures every model under the same protocol, interleaved run by run (model A, model B, A, B, …, each round
    /// starting one model later), so a machine that speeds up or slows down affects all of them alike and ratios stay
    /// fair. With several models the run is split into passes that load the sessions in another order each
    /// (<see cref="LoadOrders"/>), and each model's times are pooled over the passes: a session's place in the load
    /// order alone shifts its speed (five sessions of one model, interleaved: the first loaded ran 8 % slower than the
    /// last, whichever file it was; docs/BENCHMARKS.md), so every model takes every place. Each pass has its share of
    /// the runs and seconds; the first warms up fully, later ones with one run after the fresh session's first.
    /// </summary>
    public static IReadOnlyList<LatencyResult> Measure(IReadOnlyList<MeasuredModel> models, LatencyProtocol protocol, IProgress<(int Runs, double Seconds)>? progress = null)
    {
        protocol.Validate();
        var options = new EngineOptions { Threads = protocol.Threads, Provider = protocol.Provider };
        var orders = LoadOrders(models.Count);
        var times = models.Select(_ => new List<double>()).ToList();
        var sessionMs = new double[models.Count];
        var firstMs = new double[models.Count];
        var fitted = new GraphFit[models.Count];
        var runsPerPass = Math.Max(1, (protocol.MinRuns + orders.Count - 1) / orders.Count);
        var secondsPerPass = protocol.MinSeconds / orders.Count;
        var total = Stopwatch.StartNew();
        foreach (var (pass, order) in orders.Index())
        {
            var engines = new SrEngine?[models.Count];
            try
            {
                foreach (var m in order)
                {
                    var clock = Stopwatch.StartNew();
                    engines[m] = SrEngine.Load(models[m].Path, options with { Fit = models[m].Fit });
                    var loadMs = clock.Elapsed.TotalMilliseconds;
                    clock.Restart();
                    engines[m]!.RunBlank(protocol.Width, protocol.Height);
                    if (pass == 0)
                        (sessionMs[m], firstMs[m], fitted[m]) = (loadMs, clock.Elapsed.TotalMilliseconds, engines[m]!.Fitted);
                }
                for (var w = 0; w < (pass == 0 ? protocol.Warmup : Math.Min(1, protocol.Warmup)); w++)
                    foreach (var m in order)
                        engines[m]!.RunBlank(protocol.Width, protocol.Height);

                var passClock = Stopwatch.StartNew();
                for (var round = 0; ; round++)
                {
                    // Each round starts one model later (A B C, B C A, C A B, …): no model always runs after the same one,
                    // whose caches and clocks it would inherit.
                    for (var i = 0; i < order.Count; i++)
                    {
                        var m = order[(round + i) % order.Count];
                        var clock = Stopwatch.StartNew();
                        engines[m]!.RunBlank(protocol.Width, protocol.Height);
                        times[m].Add(clock.Elapsed.TotalMilliseconds);
                    }
                    progress?.Report((times[0].Count, total.Elapsed.TotalSeconds));
                    if ((round + 1 >= runsPerPass && passClock.Elapsed.TotalSeconds >= secondsPerPass) || total.Elapsed.TotalSeconds >= protocol.MaxSeconds)
                        break;
                }
            }
            finally
            {
                foreach (var engine in engines)
                    engine?.Dispose();
            }
            if (total.Elapsed.TotalSeconds >= protocol.MaxSeconds)
                break;
        }

        var environment = Environment();
        return [.. models.Select((model, m) => Summarize(model.Path, fitted[m], times[m], sessionMs[m], firstMs[m], protocol, environment))];
    }

    /// <summary>
    /// The order the sessions are loaded in, per pass: <paramref name="count"/> rotations (at most
    /// <see cref="MaxPasses"/>, evenly spaced), so each model is loaded first once and, up to that many models, takes
    /// every place in the order once.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<int>> LoadOrders(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var passes = Math.Max(1, Math.Min(count, MaxPasses));
        return [.. Enumerable.Range(0, passes).Select(pass => (IReadOnlyList<int>)[.. Enumerable.Range(0, count).Select(i => (i + pass * count / passes) % count)])];
    }

    private static LatencyResult Summarize(string model, GraphFit fitted, List<double> times, double sessionMs, double firstMs, LatencyProtocol protocol, IReadOnlyDictionary<string, string> environment)
    {
        var sorted = times.Order().ToArray();
        var mean = sorted.Average();
        return new LatencyResult
        {
            Model = model,
            MedianMs = Percentile(sorted, 50),
            P90Ms = Percentile(sorted, 90),
            P99Ms = Percentile(sorted, 99),
            MeanMs = mean,
            StdMs = Math.Sqrt(sorted.Sum(t => (t - mean) * (t - mean)) / Math.Max(1, sorted.Length - 1)),
            MinMs = sorted[0],
            MaxMs = sorted[^1],
            Runs = sorted.Length,
            SessionMs = sessionMs,
            FirstRunMs = firstMs,
            Threads = protocol.Threads,
            Engine = $"onnxruntime {SrEngine.RuntimeVersion}",
            Provider = protocol.Provider,
            GraphFit = GraphFitting.Format(fitted),
            Protocol = protocol,
            Environment = environment,
        };
    }

    /// <summary>Linear interpolation between closest ranks (numpy's default).</summary>
    public static double Percentile(double[] sorted, double percent)
    {
        var position = (sorted.Length - 1) * percent / 100.0;
        var lower = (int)Math.Floor(position);
        var upper = Math.Min(lower + 1, sorted.Length - 1);
        return sorted[lower] + ((sorted[upper] - sorted[lower]) * (position - lower));
    }

    /// <summary>What the machine says about itself, where it says it (CPU model, frequency, temperature).</summary>
    public static IReadOnlyDictionary<string, string> Environment()
    {
        var result = new Dictionary<string, string>
        {
            ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            ["architecture"] = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString(),
            ["logical_cpus"] = System.Environment.ProcessorCount.ToString(),
        };
        TryRead("/proc/cpuinfo", text => text.Split('\n').FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim(), "cpu_model", result);
        TryRead("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", text => $"{long.Parse(text.Trim()) / 1000} MHz", "cpu0_frequency", result);
        TryRead("/sys/class/thermal/thermal_zone0/temp", text => $"{long.Parse(text.Trim()) / 1000.0:F1} C", "thermal_zone0", result);
        return result;
    }

    private static void TryRead(string path, Func<string, string?> parse, string key, Dictionary<string, string> into)
    {
        try
        {
            if (File.Exists(path) && parse(File.ReadAllText(path)) is { Length: > 0 } value)
                into[key] = value;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            // Not readable on this machine: the key is simply absent.
        }
    }
}
