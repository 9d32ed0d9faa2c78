using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SrMobile.Engine;
using SrMobile.Engine.Metrics;
using SrMobile.Engine.Models;
using SrMobile.Training.Data;
using SrMobile.Training.Network;
using TorchSharp;
using static TorchSharp.torch;

namespace SrMobile.Training.Trainer;

/// <summary>
/// Trains one ABPN with the seed recipe: L1, Adam, multi-step lr, validation on full images in both protocols,
/// best and last checkpoints (atomic), a CSV record, and exact resume (weights, Adam state, iteration; the data
/// RNG is counter-based, see <see cref="PatchSampler"/>).
/// </summary>
public sealed class AbpnTrainer(TrainingOptions options, ExperimentPaths paths, DatasetLoader loader, Action<string>? log = null)
{
    private static readonly JsonSerializerOptions OptionsJson = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    private Action<long, AbpnNetwork>? onCheckpoint;

    public TrainingOptions Options { get; } = options;

    // onCheckpoint: called with the network after each checkpoint (e.g. to evaluate extra sets along the way).
    public TrainingResult Run(bool resume, IProgress<TrainingProgress>? progress = null, CancellationToken cancellation = default,
        Action<long, AbpnNetwork>? onCheckpoint = null)
    {
        this.onCheckpoint = onCheckpoint;
        Validate(Options);
        var checkpoint = CheckExperiment(resume);
        // Data first: a run whose data is unusable leaves nothing behind that would block the same --name.
        var train = loader.Load(Options.Train, Options.Scale);
        var validation = Options.Validation is null ? null : loader.Load(Options.Validation, Options.Scale);
        var sampler = new PatchSampler(train, Options.Scale, Options.BatchSize, Options.PatchSize, Options.Seed, Options.Augment);
        Directory.CreateDirectory(paths.Folder);
        File.WriteAllText(paths.Options, JsonSerializer.Serialize(Options, OptionsJson));
        Log($"{(checkpoint is null ? "start" : $"resume at iteration {checkpoint.Metadata.Iteration}")}: {Options.Architecture}, {Options.Architecture.ParameterCount:N0} parameters, {train.Count} training images ({Options.Train.Describe()}), {validation?.Count ?? 0} validation images");

        NativeAllocator.Tune();
        var device = cuda.is_available() ? CUDA : CPU;
        // Resizing libtorch's thread pool while another trainer in the process computes is not safe: only when needed.
        if (device.type == DeviceType.CPU && Options.Threads > 0 && get_num_threads() != Options.Threads)
            set_num_threads(Options.Threads);
        var qatSource = Options.QatFrom is { } from && checkpoint is null ? LoadQatSource(from) : null;
        // The conv-path scales belong to the weights: a resumed run keeps its checkpoint's, QAT its source's.
        var weightsFrom = checkpoint?.Metadata ?? qatSource?.Metadata;
        using var network = new AbpnNetwork(Options.Architecture, weightsFrom?.InputScale ?? Options.InputScale,
            weightsFrom?.ResidualScale ?? Options.ResidualScale, Options.Seed);
        if (qatSource is not null)
        {
            network.ImportParameters(qatSource.Parameters);
            var activations = Options.QatActivations == "int8" ? Engine.Onnx.ActivationType.Int8 : Engine.Onnx.ActivationType.UInt8;
            var initial = Quantization.Calibration.Ranges(network, train.Take(16).Select(p => p.Low).ToList(), Quantization.CalibrationMethod.MinMax, activations);
            network.Quantization = new Quantization.QuantizationState(initial, activations);
            Log($"QAT from {Options.QatFrom} ({activations} activations), ranges observed for {Options.QatObserveIterations} iterations, then frozen");
        }
        network.to(device);
        using var optimizer = optim.Adam(network.parameters(), Options.LearningRate, Options.Beta1, Options.Beta2, Options.Epsilon);
        var start = 0L;
        var best = double.NegativeInfinity;
        if (checkpoint is not null)
        {
            network.ImportParameters(checkpoint.Parameters);
            if (checkpoint.Metadata.Quantization is { } q)
                network.Quantization = new Quantization.QuantizationState(q.TensorRanges(), q.ActivationType) { Observing = !q.Frozen };
            using (var reader = new BinaryReader(new MemoryStream(checkpoint.OptimizerState
                ?? throw new BadInputException($"{paths.LastCheckpoint}: checkpoint has no optimizer state to resume from"))))
            {
                optimizer.load_state_dict(reader);
            }
            start = checkpoint.Metadata.Iteration;
            if (checkpoint.Metadata.Trainer.TryGetValue("best", out var stored))
                best = double.Parse(stored, CultureInfo.InvariantCulture);
        }

        var record = new TrainingRecord(paths.Record, start);
        var clock = Stopwatch.StartNew();
        var iteration = start;
        var windowLoss = 0.0;
        var windowSteps = 0;
        var smoothedLoss = double.NaN;
        IReadOnlyDictionary<string, double>? lastMetrics = null;
        var stopReason = "completed";
        using (var prefetcher = new BatchPrefetcher(sampler, start, Options.Iterations))
        {
            while (iteration < Options.Iterations)
            {
                if (cancellation.IsCancellationRequested)
                {
                    stopReason = "cancelled";
                    break;
                }
                if (Options.MaxMinutes is { } budget && clock.Elapsed.TotalMinutes >= budget)
                {
                    stopReason = "time budget reached";
                    break;
                }

                if (network.Quantization is { Observing: true } quantization && iteration >= Options.QatObserveIterations)
                    quantization.Observing = false;
                var learningRate = Options.LearningRateAt(iteration);
                foreach (var group in optimizer.ParamGroups)
                    group.LearningRate = learningRate;
                var loss = Step(network, optimizer, prefetcher.Next(cancellation), device);
                iteration++;
                windowLoss += loss;
                windowSteps++;
                smoothedLoss = double.IsNaN(smoothedLoss) ? loss : (0.98 * smoothedLoss) + (0.02 * loss);
                if (Options.CollectEvery > 0 && iteration % Options.CollectEvery == 0)
                {
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                }

                if (iteration % Options.LogEvery == 0)
                {
                    record.Append(iteration, Epoch(iteration), clock.Elapsed.TotalSeconds, windowLoss / windowSteps, learningRate, null);
                    windowLoss = 0;
                    windowSteps = 0;
                }
                var validateNow = Options.ValidateEvery > 0 && iteration % Options.ValidateEvery == 0 && iteration < Options.Iterations;
                if (validateNow)
                    (lastMetrics, best) = Evaluate(network, optimizer, validation, iteration, best, record, clock.Elapsed, learningRate);

                progress?.Report(new TrainingProgress(iteration, Options.Iterations, smoothedLoss, learningRate,
                    (iteration - start) / Math.Max(clock.Elapsed.TotalSeconds, 1e-9), clock.Elapsed, lastMetrics));
            }
        }

        // On Ctrl-C only the checkpoint is written (a full validation could outlast the user's patience).
        if (iteration > start || checkpoint is null)
            (lastMetrics, best) = Evaluate(network, optimizer, stopReason == "cancelled" ? null : validation, iteration, best, record, clock.Elapsed, Options.LearningRateAt(Math.Max(iteration - 1, 0)));
        var rate = (iteration - start) / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
        Log($"{stopReason} at iteration {iteration} ({rate:F2} steps/s){FormatMetrics(lastMetrics)}");
        return new TrainingResult(iteration, iteration >= Options.Iterations, stopReason, lastMetrics, rate);
    }

    private static double Step(AbpnNetwork network, TorchSharp.Modules.Adam optimizer, PatchBatch batch, Device device)
    {
        using var scope = NewDisposeScope();
        var low = tensor(batch.Low, [batch.Count, 3, batch.PatchSize, batch.PatchSize]).to(device);
        var high = tensor(batch.High, [batch.Count, 3, batch.PatchSize * batch.Scale, batch.PatchSize * batch.Scale]).to(device);
        var loss = nn.functional.l1_loss(network.forward(low), high);
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        return loss.item<float>();
    }

    private (IReadOnlyDictionary<string, double>?, double) Evaluate(
        AbpnNetwork network, TorchSharp.Modules.Adam optimizer, IReadOnlyList<TrainingPair>? validation, long iteration,
        double best, TrainingRecord record, TimeSpan elapsed, double learningRate)
    {
        Dictionary<string, double>? metrics = null;
        if (validation is { Count: > 0 })
        {
            metrics = Validate(network, validation, Options.Scale);
            record.Append(iteration, Epoch(iteration), elapsed.TotalSeconds, null, learningRate, metrics);
        }
        var score = metrics?.GetValueOrDefault(Options.BestMetric, double.NegativeInfinity) ?? double.NegativeInfinity;
        var improved = metrics is not null && score > best;
        if (improved)
            best = score;

        // Last first: if the process dies between the two writes, resume still knows the best score it beat.
        var metadata = network.DescribeCheckpoint(iteration, paths.Name) with
        {
            Metrics = metrics ?? [],
            Trainer = new() { ["seed"] = Options.Seed.ToString(CultureInfo.InvariantCulture), ["best"] = best.ToString("R", CultureInfo.InvariantCulture) },
        };
        using (var buffer = new MemoryStream())
        {
            using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
                optimizer.save_state_dict(writer);
            new AbpnCheckpoint(metadata, network.ExportParameters(), buffer.ToArray()).Save(paths.LastCheckpoint);
        }
        // Without a validation set the newest weights are the best we know of.
        if (improved || Options.Validation is null)
            new AbpnCheckpoint(metadata, network.ExportParameters()).Save(paths.BestCheckpoint);
        Log($"iteration {iteration}: checkpoint{(improved ? " (new best)" : "")}{FormatMetrics(metrics)}");
        onCheckpoint?.Invoke(iteration, network);
        return (metrics, best);
    }

    /// <summary>Mean PSNR/SSIM of the network on whole validation images, in the Y and the seed's RGB protocol.</summary>
    public static Dictionary<string, double> Validate(AbpnNetwork network, IReadOnlyList<TrainingPair> pairs, int scale)
    {
        var training = network.training;
        network.eval();
        var y = EvaluationProtocol.Standard(scale);
        var rgb = EvaluationProtocol.Seed;
        var sums = new double[4];
        foreach (var pair in pairs)
        {
            var sr = SuperResolver.Upscale(network, pair.Low);
            var a = y.Score(sr, pair.High);
            var b = rgb.Score(sr, pair.High);
            sums[0] += a.Psnr;
            sums[1] += a.Ssim;
            sums[2] += b.Psnr;
            sums[3] += b.Ssim;
        }
        network.train(training);
        return new Dictionary<string, double>
        {
            [Metrics.PsnrY] = sums[0] / pairs.Count,
            [Metrics.SsimY] = sums[1] / pairs.Count,
            [Metrics.PsnrRgb] = sums[2] / pairs.Count,
            [Metrics.SsimRgb] = sums[3] / pairs.Count,
        };
    }

    private AbpnCheckpoint LoadQatSource(string path)
    {
        var source = AbpnCheckpoint.Load(path);
        if (source.Architecture != Options.Architecture)
            throw new BadInputException($"{path}: checkpoint is {source.Architecture}, the options say {Options.Architecture}");
        if (source.Metadata.Quantization is not null)
            throw new BadInputException($"{path}: is already a QAT checkpoint; --from takes a float checkpoint");
        return source;
    }

    private int Epoch(long iteration) => (int)((iteration + Options.IterationsPerEpoch - 1) / Options.IterationsPerEpoch);

    private AbpnCheckpoint? CheckExperiment(bool resume)
    {
        var stored = Path.Exists(paths.Options) ? File.ReadAllText(paths.Options) : null;
        if (paths.Exists && !resume)
            throw new BadInputException($"{paths.Folder}: experiment '{paths.Name}' exists; pass --resume to continue it or choose another --name (nothing was overwritten)");
        AbpnCheckpoint? checkpoint = null;
        if (resume && File.Exists(paths.LastCheckpoint))
        {
            checkpoint = AbpnCheckpoint.Load(paths.LastCheckpoint);
            if (checkpoint.Architecture != Options.Architecture)
                throw new BadInputException($"{paths.LastCheckpoint}: checkpoint is {checkpoint.Architecture}, the options say {Options.Architecture}");
            if (stored is not null && Comparable(stored) != Comparable(JsonSerializer.Serialize(Options, OptionsJson)))
                throw new BadInputException($"{paths.Options}: the options differ from the run being resumed (only iterations, max_minutes and threads may change); use another --name for a new recipe");
        }
        return checkpoint;
    }

    // The options a resumed run must share with its start: everything but how long and on how many threads.
    private static string Comparable(string json)
    {
        var options = JsonSerializer.Deserialize<TrainingOptions>(json, OptionsJson)!;
        return JsonSerializer.Serialize(options with { Iterations = 0, MaxMinutes = null, Threads = 0 }, OptionsJson);
    }

    private static void Validate(TrainingOptions o)
    {
        o.Architecture.Validate();
        if (o.Iterations < 1)
            throw new BadInputException($"iterations must be at least 1, not {o.Iterations}");
        if (o.IterationsPerEpoch < 1)
            throw new BadInputException($"iterations_per_epoch must be at least 1, not {o.IterationsPerEpoch}");
        if (!(o.LearningRate > 0))
            throw new BadInputException($"lr must be positive, not {o.LearningRate}");
        if (o.LogEvery < 1)
            throw new BadInputException($"log_every must be at least 1, not {o.LogEvery}");
        if (o.ValidateEvery < 0)
            throw new BadInputException($"validate_every must be 0 or more, not {o.ValidateEvery}");
        if (o.QatActivations is not ("uint8" or "int8"))
            throw new BadInputException($"qat_activations must be uint8 or int8, not '{o.QatActivations}'");
        if (!Metrics.All.Contains(o.BestMetric) || !o.BestMetric.StartsWith("psnr", StringComparison.Ordinal))
            throw new BadInputException($"best_metric must be {Metrics.PsnrY} or {Metrics.PsnrRgb}, not '{o.BestMetric}'");
    }

    private static string FormatMetrics(IReadOnlyDictionary<string, double>? metrics) => metrics is null
        ? ""
        : string.Concat(metrics.Select(m => string.Create(CultureInfo.InvariantCulture, $", {m.Key} {m.Value:F4}")));

    private void Log(string line)
    {
        var stamped = $"{DateTime.UtcNow:yyyy-MM-dd HH:mm:ss}Z {line}";
        Directory.CreateDirectory(Path.GetDirectoryName(paths.LogFile)!);
        File.AppendAllText(paths.LogFile, stamped + "\n");
        log?.Invoke(line);
    }
}
