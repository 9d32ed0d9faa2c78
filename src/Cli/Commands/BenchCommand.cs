using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SrMobile.Training;
using SrMobile.Engine.Imaging;
using SrMobile.Engine.Models;
using SrMobile.Engine.Onnx;
using SrMobile.Training.Data;
using SrMobile.Training.Network;
using SrMobile.Training.Trainer;
using static TorchSharp.torch;

namespace SrMobile.Cli.Commands;

/// <summary>
/// <c>srmobile bench train|quality|inference</c>: the training speed/memory, quality-in-a-wall-budget and float
/// inference benchmarks behind docs/BENCHMARKS.md. Results go to stdout (table or --json), progress to stderr.
/// </summary>
public static class BenchCommand
{
    private static readonly JsonSerializerOptions LatencyJson = new() { WriteIndented = true };

    /// <summary>
    /// A row label per model: its file name, or, where two share a name (<c>a/model.int8.onnx</c>,
    /// <c>b/model.int8.onnx</c>), the shortest trailing part of the path that tells them apart. The same file named
    /// twice keeps its full path and a count.
    /// </summary>
    internal static IReadOnlyList<string> Labels(IReadOnlyList<string> paths)
    {
        var segments = paths.Select(p => Path.GetFullPath(p).Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries)).ToList();
        var labels = new string[paths.Count];
        for (var i = 0; i < paths.Count; i++)
        {
            var others = Enumerable.Range(0, paths.Count).Where(j => j != i && !segments[j].SequenceEqual(segments[i])).ToList();
            bool Ambiguous(int take) => others.Any(j => Suffix(segments[j], take) == Suffix(segments[i], take));
            var take = 1;
            while (take < segments[i].Length && Ambiguous(take))
                take++;
            // Still ambiguous when its whole path is the tail of another's (/a/m.onnx and /x/a/m.onnx).
            labels[i] = Ambiguous(take) ? Path.GetFullPath(paths[i]) : Suffix(segments[i], take);
            var copies = Enumerable.Range(0, i).Count(j => segments[j].SequenceEqual(segments[i]));
            if (copies > 0)
                labels[i] += $" ({copies + 1})";
        }
        return labels;

        static string Suffix(string[] parts, int count) => string.Join('/', parts[Math.Max(0, parts.Length - count)..]);
    }

    private static (int Height, int Width) ParseSize(string text)
    {
        var size = text.Split('x');
        if (size.Length != 2 || !int.TryParse(size[0], out var height) || !int.TryParse(size[1], out var width) || height < 1 || width < 1)
            throw new Engine.BadInputException($"--input must be HxW, e.g. 360x640, not '{text}'");
        return (height, width);
    }

    /// <summary>
    /// ORT's own profile of <paramref name="measured"/> (the optimized graph it really runs): warm-up and the protocol's
    /// minimum runs in a profiling session, the latter summed per operator type and node. The raw profile stays in the working
    /// folder (<c>srmobile-profile-*.json</c>, for chrome://tracing or Perfetto).
    /// </summary>
    private static (OnnxProfile Summary, string File) Profile(MeasuredModel measured, LatencyProtocol protocol)
    {
        var model = measured.Path;
        var prefix = Path.Combine(Environment.CurrentDirectory, $"srmobile-profile-{Path.GetFileNameWithoutExtension(model)}");
        using var engine = SrEngine.Load(model, new EngineOptions { Threads = protocol.Threads, Provider = protocol.Provider, ProfilePrefix = prefix, Fit = measured.Fit });
        for (var run = 0; run < protocol.Warmup + protocol.MinRuns; run++)
            engine.RunBlank(protocol.Width, protocol.Height);
        var file = engine.EndProfiling();
        return (OnnxProfile.Read(file, protocol.MinRuns, OnnxProfile.ConvolutionKernels(model), (long)protocol.Width * protocol.Height), Path.GetFullPath(file));
    }

    private static void PrintProfile(TextWriter output, string label, OnnxProfile profile, string file)
    {
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"\nprofile of {label}: {profile.Runs} runs, {profile.MillisecondsPerRun:F2} ms per run, {profile.NodeMillisecondsPerRun:F2} ms in nodes ({file})"));
        output.WriteLine($"{"operator",-24} {"nodes",5} {"ms/run",8} {"share",7} {"GMAC/s",8}");
        foreach (var o in profile.Operators)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{o.OpType,-24} {o.Nodes,5} {o.MillisecondsPerRun,8:F2} {o.Share,7:P1} {(o.GmacPerSecond is { } r ? r.ToString("F1", CultureInfo.InvariantCulture) : "-"),8}"));
        output.WriteLine($"{"slowest nodes",-40} {"operator",-16} {"ms/run",8} {"share",7} {"GMAC",7} {"GMAC/s",8}");
        foreach (var n in profile.Nodes.Take(10))
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{n.Node,-40} {n.OpType,-16} {n.MillisecondsPerRun,8:F2} {n.Share,7:P1} {(n.GigaMacs is { } g ? g.ToString("F3", CultureInfo.InvariantCulture) : "-"),7} {(n.GmacPerSecond is { } r ? r.ToString("F1", CultureInfo.InvariantCulture) : "-"),8}"));
    }

    public static Command Create(CliConsole console)
    {
        var models = new Option<FileInfo[]>("--onnx") { Description = "ONNX model(s) to time; several are measured interleaved", AllowMultipleArgumentsPerToken = false };
        var input = new Option<string>("--input") { DefaultValueFactory = _ => "360x640", Description = "LR size HxW" };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => 1 };
        var provider = new Option<string>("--provider") { DefaultValueFactory = _ => "cpu", Description = "cpu or xnnpack" };
        var warmup = new Option<int>("--warmup") { DefaultValueFactory = _ => 5 };
        var minRuns = new Option<int>("--min-runs") { DefaultValueFactory = _ => 20 };
        var minSeconds = new Option<double>("--min-seconds") { DefaultValueFactory = _ => 5 };
        var maxSeconds = new Option<double>("--max-seconds") { DefaultValueFactory = _ => 120 };
        var json = new Option<bool>("--json") { Description = "One JSON document on stdout (one object, or a list for several models)" };
        var profile = new Option<bool>("--profile") { Description = "Then profile each model in a session of its own: time per operator type and node, MAC rate of convolutions" };
        var fits = new Option<string[]>("--fit")
        {
            Description = "The exact graph rewrites made before timing: host (default: what this CPU gets), none, or pad,shuffle; "
                + "given several times, each model is measured with each, interleaved",
            AllowMultipleArgumentsPerToken = false,
        };
        var command = new Command("bench", "Latency of ONNX models under the measurement protocol (--onnx), or: train | quality | inference | search | chaos.")
        {
            models, input, threads, provider, warmup, minRuns, minSeconds, maxSeconds, json, profile, fits,
        };
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, () =>
        {
            var files = parse.GetValue(models) ?? [];
            if (files.Length == 0)
                throw new Engine.BadInputException("give --onnx <model.onnx> (or a subcommand: train, quality, inference)");
            var (height, width) = ParseSize(parse.GetValue(input)!);
            var protocol = new LatencyProtocol
            {
                Height = height,
                Width = width,
                Threads = parse.GetValue(threads),
                Provider = parse.GetValue(provider)!,
                Warmup = parse.GetValue(warmup),
                MinRuns = parse.GetValue(minRuns),
                MinSeconds = parse.GetValue(minSeconds),
                MaxSeconds = parse.GetValue(maxSeconds),
            };
            var fitList = (parse.GetValue(fits) is { Length: > 0 } given ? given : ["host"]).Select(f => GraphFitting.Parse(f)).Distinct().ToList();
            var measured = files.SelectMany(f => fitList.Select(fit => new MeasuredModel(f.FullName, fit))).ToList();
            var bar = new ProgressBar(console, "bench", protocol.MinRuns);
            var results = LatencyMeasurement.Measure(measured, protocol, new InlineProgress<(int Runs, double Seconds)>(p => bar.Report(p.Runs)));
            bar.Finish(results[0].Runs);
            // Profiling slows every run, so the latency above comes from sessions without it.
            var profiles = parse.GetValue(profile) ? measured.Select(m => Profile(m, protocol)).ToList() : null;
            if (parse.GetValue(json))
            {
                object document = profiles is null
                    ? (results.Count == 1 ? results[0] : results)
                    : (results.Count == 1 ? new { Latency = results[0], Profile = profiles[0].Summary, ProfileFile = profiles[0].File }
                        : results.Zip(profiles, (r, p) => new { Latency = r, Profile = p.Summary, ProfileFile = p.File }).ToList());
                // Snake case throughout, as the latency result's own names are.
                console.Out.WriteLine(JsonSerializer.Serialize(document, profiles is null ? LatencyJson : SrMobileCommand.Json));
            }
            else
            {
                console.Out.WriteLine($"{width}x{height} input, {protocol.Threads} thread(s), {results[0].Engine}, provider {protocol.Provider}");
                // With several fits, each row says what its graph got (a float graph has nothing to pad).
                var labels = Labels([.. files.Select(f => f.FullName)]).SelectMany(l => fitList.Select(_ => l))
                    .Zip(results, (l, r) => fitList.Count > 1 ? $"{l} [fit {r.GraphFit}]" : l).ToList();
                var column = Math.Max(32, labels.Max(l => l.Length));
                console.Out.WriteLine($"{"model".PadRight(column)} {"median",8} {"p90",8} {"p99",8} {"mean",8} {"std",7} {"min",8} {"runs",5} {"session",8} {"first",8}");
                foreach (var (r, label) in results.Zip(labels))
                {
                    console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{label.PadRight(column)} {r.MedianMs,8:F2} {r.P90Ms,8:F2} {r.P99Ms,8:F2} {r.MeanMs,8:F2} {r.StdMs,7:F2} {r.MinMs,8:F2} {r.Runs,5} {r.SessionMs,8:F1} {r.FirstRunMs,8:F1}"));
                }
                for (var i = 1; i < results.Count; i++)
                    console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"median ratio {labels[i]} / {labels[0]}: {results[i].MedianMs / results[0].MedianMs:F3}"));
                foreach (var (p, label) in (profiles ?? []).Zip(labels))
                    PrintProfile(console.Out, label, p.Summary, p.File);
            }
            return Task.FromResult(0);
        }));
        command.Subcommands.Add(Train(console));
        command.Subcommands.Add(Quality(console));
        command.Subcommands.Add(Inference(console));
        command.Subcommands.Add(BenchSearchCommand.Create(console));
        command.Subcommands.Add(BenchChaosCommand.Create(console));
        return command;
    }

    private static Command Train(CliConsole console)
    {
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 3000, Description = "Training steps to run" };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => 2 };
        var data = new Option<DirectoryInfo?>("--train") { Description = "HR training folder (default: bundled samples)" };
        var json = new Option<bool>("--json");
        var command = new Command("train", "Steps/s and resident memory of the trainer (s3 m4 C28, batch 16, LR 64x64).") { steps, threads, data, json };
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, () =>
        {
            using var work = new TemporaryWorkFolder();
            var total = parse.GetValue(steps);
            var options = new TrainingOptions
            {
                Train = new HighOnlyFolderSource(parse.GetValue(data)?.FullName ?? SrMobileCommand.Bundled(Path.Combine("samples", "train"))),
                Iterations = total,
                ValidateEvery = 0,
                LogEvery = 100,
                Threads = parse.GetValue(threads),
            };
            var samples = new List<(long Step, double Seconds, double RssMb)>();
            var clock = Stopwatch.StartNew();
            var bar = new ProgressBar(console, "bench train", total);
            var result = new AbpnTrainer(options, new ExperimentPaths(work.Path, "bench"), new DatasetLoader(Path.Combine(work.Path, ".cache")))
                .Run(false, new InlineProgress<TrainingProgress>(p =>
                {
                    if (p.Iteration % 100 == 0)
                        samples.Add((p.Iteration, clock.Elapsed.TotalSeconds, ResidentMegabytes()));
                    bar.Report(p.Iteration, $"loss {p.Loss:F2} rss {ResidentMegabytes():F0} MB");
                }), cancellation);
            bar.Finish(result.Iteration);
            // Steady-state rate: from step 100 on (the first steps pay for allocation and JIT).
            var first = samples.First();
            var last = samples.Last();
            var report = new
            {
                benchmark = "train",
                architecture = options.Architecture.ToString(),
                batch = options.BatchSize,
                patch = options.PatchSize,
                threads = options.Threads,
                steps = result.Iteration,
                steps_per_second = (last.Step - first.Step) / (last.Seconds - first.Seconds),
                rss_mb_at_step_100 = first.RssMb,
                rss_mb_max = samples.Max(s => s.RssMb),
                rss_mb_last = last.RssMb,
                rss_mb_growth_after_step_500 = last.RssMb - samples.First(s => s.Step >= Math.Min(500, last.Step)).RssMb,
                rss_curve = samples.Where((_, i) => i % 5 == 0).Select(s => new { s.Step, rss_mb = Math.Round(s.RssMb) }),
            };
            console.Out.WriteLine(parse.GetValue(json) ? JsonSerializer.Serialize(report, SrMobileCommand.Json) : string.Create(CultureInfo.InvariantCulture,
                $"{report.architecture} batch {report.batch} patch {report.patch}, {report.threads} threads: {report.steps_per_second:F2} steps/s; RSS {report.rss_mb_at_step_100:F0} MB at step 100, max {report.rss_mb_max:F0} MB, last {report.rss_mb_last:F0} MB (growth after step 500: {report.rss_mb_growth_after_step_500:+0;-0} MB)"));
            return Task.FromResult(0);
        }));
        return command;
    }

    private static Command Quality(CliConsole console)
    {
        var minutes = new Option<double>("--minutes") { DefaultValueFactory = _ => 30, Description = "Wall-time budget for training" };
        var data = new Option<DirectoryInfo>("--train") { Required = true, Description = "HR training folder (e.g. shared/data/train)" };
        var set5 = new Option<DirectoryInfo>("--set5") { Required = true };
        var set14 = new Option<DirectoryInfo>("--set14") { Required = true };
        var points = new Option<int>("--points") { DefaultValueFactory = _ => 10, Description = "Evaluations along the curve" };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => 2 };
        var workdir = new Option<DirectoryInfo?>("--workdir") { Description = "Keep the run here (default: a temporary folder)" };
        var json = new Option<bool>("--json");
        var command = new Command("quality", "Train s3 m4 C28 within a wall budget; Set5/Set14 x3 (Y) gain over bicubic along the way.")
        {
            minutes, data, set5, set14, points, threads, workdir, json,
        };
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, () =>
        {
            var budget = parse.GetValue(minutes);
            var loader = new DatasetLoader(Path.Combine(Path.GetTempPath(), "srmobile-bench-cache"));
            var sets = new[] { ("Set5", parse.GetValue(set5)!), ("Set14", parse.GetValue(set14)!) }
                .Select(s => (Name: s.Item1, Pairs: loader.Load(new HighOnlyFolderSource(s.Item2.FullName), 3))).ToList();
            var bicubic = sets.ToDictionary(s => s.Name, s => s.Pairs.Average(p =>
                Engine.Metrics.EvaluationProtocol.Standard(3).Score(MatlabResize.Upscale(p.Low, 3), p.High).Psnr));

            // Size the schedule to the budget: measure the step rate briefly, then plan iterations and milestones (60 %, 85 %).
            var source = new HighOnlyFolderSource(parse.GetValue(data)!.FullName);
            // The rate is taken from step 20 on: the first steps pay for JIT and allocation and would shorten the plan.
            var probe = new TrainingOptions { Train = source, Iterations = 100, ValidateEvery = 0, Threads = parse.GetValue(threads) };
            using var probeFolder = new TemporaryWorkFolder();
            var probeClock = new Stopwatch();
            new AbpnTrainer(probe, new ExperimentPaths(probeFolder.Path, "probe"), loader).Run(false, new InlineProgress<TrainingProgress>(p =>
            {
                if (p.Iteration == 20)
                    probeClock.Start();
            }), cancellation);
            var rate = 80 / probeClock.Elapsed.TotalSeconds;
            var planned = (long)(rate * budget * 60 * 0.95);
            var options = probe with
            {
                Iterations = planned,
                LearningRateMilestones = [(long)(planned * 0.6), (long)(planned * 0.85)],
                ValidateEvery = (int)Math.Max(1, planned / parse.GetValue(points)),
                MaxMinutes = budget,
            };
            using var temporary = new TemporaryWorkFolder();
            var root = parse.GetValue(workdir)?.FullName ?? temporary.Path;
            var paths = new ExperimentPaths(root, $"quality-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
            var curve = new List<object>();
            var clock = Stopwatch.StartNew();
            var bar = new ProgressBar(console, "bench quality", planned);
            var result = new AbpnTrainer(options, paths, loader).Run(false, new InlineProgress<TrainingProgress>(p =>
            {
                bar.Report(p.Iteration, $"loss {p.Loss:F2}");
            }), cancellation, (iteration, network) =>
            {
                var training = clock.Elapsed.TotalMinutes;
                var scores = sets.ToDictionary(s => s.Name, s => AbpnTrainer.Validate(network, s.Pairs, 3)[Metrics.PsnrY]);
                curve.Add(new
                {
                    minutes = Math.Round(training, 2),
                    iteration,
                    set5_psnr = Math.Round(scores["Set5"], 3),
                    set14_psnr = Math.Round(scores["Set14"], 3),
                    set5_gain = Math.Round(scores["Set5"] - bicubic["Set5"], 3),
                    set14_gain = Math.Round(scores["Set14"] - bicubic["Set14"], 3),
                });
                console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {training:F1} min, iteration {iteration}: Set5 {scores["Set5"]:F2} ({scores["Set5"] - bicubic["Set5"]:+0.00}), Set14 {scores["Set14"]:F2} ({scores["Set14"] - bicubic["Set14"]:+0.00})"));
            });
            bar.Finish(result.Iteration);
            var report = new { benchmark = "quality", budget_minutes = budget, probe_steps_per_second = rate, planned_iterations = planned, result.Iteration, bicubic_set5 = bicubic["Set5"], bicubic_set14 = bicubic["Set14"], curve };
            console.Out.WriteLine(JsonSerializer.Serialize(report, SrMobileCommand.Json));
            return Task.FromResult(0);
        }));
        return command;
    }

    private static Command Inference(CliConsole console)
    {
        var input = new Option<string>("--input") { DefaultValueFactory = _ => "360x640", Description = "LR size HxW" };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => 2 };
        var runs = new Option<int>("--runs") { DefaultValueFactory = _ => 10 };
        var command = new Command("inference", "Float (TorchSharp) inference time of s3 m4 C28 at the challenge size.") { input, threads, runs };
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, () =>
        {
            var (height, width) = ParseSize(parse.GetValue(input)!);
            set_num_threads(parse.GetValue(threads));
            using var network = new AbpnNetwork(AbpnArchitecture.Seed);
            network.eval();
            using var _ = no_grad();
            using var image = rand(1, 3, height, width) * 255;
            network.forward(image).Dispose(); // warm-up
            var times = new List<double>();
            for (var i = 0; i < parse.GetValue(runs); i++)
            {
                cancellation.ThrowIfCancellationRequested();
                var clock = Stopwatch.StartNew();
                network.forward(image).Dispose();
                times.Add(clock.Elapsed.TotalMilliseconds);
            }
            times.Sort();
            console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{AbpnArchitecture.Seed} float {height}x{width} -> {height * 3}x{width * 3}, {parse.GetValue(threads)} threads: median {times[times.Count / 2]:F1} ms, min {times[0]:F1} ms over {times.Count} runs; peak RSS {Process.GetCurrentProcess().PeakWorkingSet64 / 1e6:F0} MB"));
            return Task.FromResult(0);
        }));
        return command;
    }

    private static double ResidentMegabytes()
    {
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64 / 1e6;
    }

    internal sealed class TemporaryWorkFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("srmobile-bench-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
