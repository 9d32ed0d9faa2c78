using System.Security.Cryptography;
using System.Text;
using SrMobile.Contracts;
using SrMobile.Engine.Evaluation;
using SrMobile.Engine.Imaging;
using SrMobile.Engine.Metrics;
using SrMobile.Engine.Models;
using SrMobile.Engine.Onnx;
using SrMobile.Training;
using SrMobile.Training.Data;
using SrMobile.Training.Network;
using SrMobile.Training.Quantization;
using SrMobile.Training.Trainer;

namespace SrMobile.Trainer;

/// <summary>
/// One candidate's trainer work: train the float model, quantize it (PTQ or QAT), export float and int8 ONNX,
/// score the int8 engine's own output on the validation images, and hand back the artifacts with their SHA-256.
/// Everything lives under folders named by the candidate key (the float model: by its architecture and training
/// recipe, shared by the PTQ and QAT siblings), so a requeued job resumes from its checkpoints.
/// </summary>
public sealed class CandidatePipeline(string workFolder, int threads) : ICandidateTrainer
{
    public TrainedCandidate Run(CandidateSpec spec, Action<string, TrainingProgress?> report, CancellationToken cancellation)
    {
        var (folder, floatFolder) = Folders(spec);
        var loader = new DatasetLoader(Path.Combine(workFolder, ".cache"));
        var recipe = spec.Training;
        var validation = new HighOnlyFolderSource(spec.Datasets.Validation ?? spec.Datasets.Train);
        var floatOptions = new TrainingOptions
        {
            Scale = spec.Scale,
            Depth = spec.Depth,
            Width = spec.Width,
            Train = new HighOnlyFolderSource(spec.Datasets.Train),
            Validation = validation,
            Iterations = recipe.Iterations,
            BatchSize = recipe.BatchSize,
            PatchSize = recipe.PatchSize,
            LearningRate = recipe.LearningRate,
            LearningRateMilestones = recipe.LearningRateMilestones.Select(f => (long)(f * recipe.Iterations)).ToList(),
            ValidateEvery = (int)Math.Max(1, recipe.Iterations / 5),
            LogEvery = (int)Math.Clamp(recipe.Iterations / 20, 1, 100),
            Threads = threads,
        };
        var floatRun = FloatRun(floatFolder);
        report("training", null);
        AbpnCheckpoint floatCheckpoint;
        using (Exclusive(floatFolder, () => report("training", null), cancellation))
            floatCheckpoint = Train(floatOptions, floatRun, loader, p => report("training", p), cancellation);

        report("quantizing", null);
        AbpnCheckpoint quantized;
        IReadOnlyList<TensorRange> ranges;
        if (spec.Quantization.Kind == "qat")
        {
            var qatOptions = floatOptions with
            {
                QatFrom = floatRun.BestCheckpoint,
                Iterations = spec.Quantization.QatIterations,
                LearningRate = spec.Quantization.QatLearningRate,
                LearningRateMilestones = [(long)(spec.Quantization.QatIterations * 0.6), (long)(spec.Quantization.QatIterations * 0.85)],
                ValidateEvery = (int)Math.Max(1, spec.Quantization.QatIterations / 5),
                QatObserveIterations = (int)Math.Max(1, spec.Quantization.QatIterations / 4),
            };
            quantized = Train(qatOptions, QatRun(folder), loader, p => report("quantizing", p), cancellation);
            ranges = quantized.Metadata.Quantization!.TensorRanges();
        }
        else
        {
            quantized = floatCheckpoint;
            using var network = AbpnNetwork.FromCheckpoint(floatCheckpoint);
            var calibration = ImageFile.ListImages(spec.Datasets.Calibration ?? spec.Datasets.Train).Take(spec.Quantization.CalibrationImages)
                .Select(path => MatlabResize.Downscale(ImageFile.Read(path).ModCrop(spec.Scale), spec.Scale)).ToList();
            var method = spec.Quantization.Method switch { "percentile" => CalibrationMethod.Percentile, "mse" => CalibrationMethod.Mse, _ => CalibrationMethod.MinMax };
            ranges = Calibration.Ranges(network, calibration, method);
        }

        var floatOnnx = Path.Combine(folder, "model.onnx");
        AbpnOnnxWriter.Save(AbpnOnnxWriter.Float(floatCheckpoint.Architecture, floatCheckpoint.SeedWeights()), floatOnnx);
        // One int8 graph per activation type the spec's devices run (both for a device the spec leaves to its own
        // facts), from the same ranges; each is scored as the engine really outputs it, not the fake-quant simulation.
        var graphs = new List<(string Activations, string Path, Int8Quality Quality)>();
        foreach (var activations in ActivationTypes.Needed(spec.Devices, spec.Activations))
        {
            var path = Path.Combine(folder, activations == ActivationTypes.UInt8 ? "model.int8.onnx" : "model.int8-activations.onnx");
            var type = activations == ActivationTypes.Int8 ? ActivationType.Int8 : ActivationType.UInt8;
            AbpnOnnxWriter.Save(AbpnOnnxWriter.Int8(quantized.Architecture, quantized.SeedWeights(), ranges, type), path);
            using var engine = SrEngine.Load(path, new EngineOptions { Threads = Math.Max(1, threads) });
            var int8 = DatasetEvaluation.Run(validation.HighFolder, spec.Scale, ProtocolKind.Y, "int8", engine.Upscale);
            graphs.Add((activations, path, new Int8Quality(activations, int8.Mean.Psnr, int8.Mean.Ssim)));
        }
        // The same images travel to the devices, which may see none of this machine's folders.
        var validationImages = Path.Combine(folder, "validation.zip");
        ValidationImages.Pack(validation.HighFolder, validationImages);
        var floatPsnr = floatCheckpoint.Metadata.Metrics.GetValueOrDefault(Metrics.PsnrY, double.NaN);
        // Quality comes from the best checkpoint; the iteration count is how far training ran (the last one).
        var trainedIterations = AbpnCheckpoint.Load(floatRun.LastCheckpoint).Metadata.Iteration;
        // The headline int8 quality is the uint8 graph's where there is one.
        var headline = graphs.FirstOrDefault(g => g.Activations == ActivationTypes.UInt8).Quality ?? graphs[0].Quality;
        return new TrainedCandidate(floatPsnr, headline.Psnr, headline.Ssim, trainedIterations,
        [
            Describe(ArtifactKinds.FloatCheckpoint, floatRun.BestCheckpoint),
            Describe(ArtifactKinds.FloatOnnx, floatOnnx),
            .. graphs.Select(g => Describe(ArtifactKinds.Int8OnnxOf(g.Activations), g.Path)),
            Describe(ArtifactKinds.TrainingRecord, floatRun.Record),
            Describe(ArtifactKinds.ValidationImages, validationImages),
        ], [.. graphs.Select(g => g.Quality)]);
    }

    public IReadOnlyList<string> ResumeFiles(CandidateSpec spec)
    {
        var (folder, floatFolder) = Folders(spec);
        var runs = spec.Quantization.Kind == "qat" ? new[] { FloatRun(floatFolder), QatRun(folder) } : [FloatRun(floatFolder)];
        return [.. runs.SelectMany(run => new[] { run.Options, run.LastCheckpoint, run.BestCheckpoint, run.Record })];
    }

    /// <summary>The candidate's own folder, and its float model's: PTQ and QAT siblings (same architecture and training recipe) share one, trained once.</summary>
    private (string Candidate, string Float) Folders(CandidateSpec spec) => (
        Path.Combine(workFolder, "candidates", ShortHash(spec.Key)),
        Path.Combine(workFolder, "float", ShortHash($"{spec.SearchName}/x{spec.Scale}-m{spec.Depth}-c{spec.Width}/{spec.TrainingHash}")));

    private static ExperimentPaths FloatRun(string floatFolder) => new(floatFolder, "float");

    private static ExperimentPaths QatRun(string candidateFolder) => new(candidateFolder, "qat");

    /// <summary>Trains (or resumes, or finds finished) one run and returns its best checkpoint.</summary>
    private static AbpnCheckpoint Train(TrainingOptions options, ExperimentPaths paths, DatasetLoader loader, Action<TrainingProgress> progress, CancellationToken cancellation)
    {
        var done = File.Exists(paths.LastCheckpoint) && AbpnCheckpoint.Load(paths.LastCheckpoint).Metadata.Iteration >= options.Iterations;
        if (!done)
        {
            var result = new AbpnTrainer(options, paths, loader).Run(paths.Exists, new InlineProgress<TrainingProgress>(progress), cancellation);
            cancellation.ThrowIfCancellationRequested();
            if (!result.Completed)
                throw new InvalidOperationException($"training stopped early: {result.StopReason}");
        }
        return AbpnCheckpoint.Load(paths.BestCheckpoint);
    }

    /// <summary>
    /// Holds <paramref name="folder"/>'s lock file (another trainer of this machine may be training the shared float
    /// model); while waiting, <paramref name="heartbeat"/> keeps this job's lease alive.
    /// </summary>
    private static FileStream Exclusive(string folder, Action heartbeat, CancellationToken cancellation)
    {
        Directory.CreateDirectory(folder);
        while (true)
        {
            try
            {
                return new FileStream(Path.Combine(folder, "train.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                heartbeat();
                cancellation.WaitHandle.WaitOne(TimeSpan.FromSeconds(1));
                cancellation.ThrowIfCancellationRequested();
            }
        }
    }

    private static string ShortHash(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16].ToLowerInvariant();

    private static Artifact Describe(string kind, string path)
    {
        using var file = File.OpenRead(path);
        return new Artifact(kind, new Uri(Path.GetFullPath(path)).AbsoluteUri, Convert.ToHexString(SHA256.HashData(file)).ToLowerInvariant(), file.Length);
    }
}
