using SrMobile.Engine.Models;
using SrMobile.Training.Data;

namespace SrMobile.Training.Trainer;

/// <summary>
/// A training run's recipe. Defaults are the seed's (options/train/base7.yaml): L1 on 0..255, Adam 1e-3
/// (β 0.9/0.999, ε 1e-7), batch 16, LR patch 64, 600 epochs of 1000 iterations, lr ×0.5 at epochs 120/240/360/480.
/// </summary>
public sealed record TrainingOptions
{
    public int Scale { get; init; } = 3;
    public int Depth { get; init; } = 4;
    public int Width { get; init; } = 28;

    public required DatasetSource Train { get; init; }
    public DatasetSource? Validation { get; init; }

    public long Iterations { get; init; } = 600_000;
    public int IterationsPerEpoch { get; init; } = 1000;
    public int BatchSize { get; init; } = 16;
    public int PatchSize { get; init; } = 64;
    public double LearningRate { get; init; } = 1e-3;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Epsilon { get; init; } = 1e-7;

    /// <summary>Iterations at which the learning rate is multiplied by <see cref="LearningRateGamma"/>.</summary>
    public IReadOnlyList<long> LearningRateMilestones { get; init; } = [120_000, 240_000, 360_000, 480_000];
    public double LearningRateGamma { get; init; } = 0.5;

    /// <summary>Linear learning-rate warm-up from 0 over this many first iterations (0 = none).</summary>
    public int WarmupIterations { get; init; }

    /// <summary>Training-only conv-path scaling (see <see cref="Network.AbpnNetwork"/>); folded away on export.</summary>
    public double InputScale { get; init; } = Network.AbpnNetwork.DefaultInputScale;
    public double ResidualScale { get; init; } = Network.AbpnNetwork.DefaultResidualScale;

    /// <summary>Validate on full images (and write checkpoints) every this many iterations; 0 = only at the end.</summary>
    public int ValidateEvery { get; init; } = 1000;

    /// <summary>Mean training loss goes to the record every this many iterations.</summary>
    public int LogEvery { get; init; } = 100;

    /// <summary>Which validation mean picks the best checkpoint: <c>psnr_y</c> or <c>psnr_rgb</c>.</summary>
    public string BestMetric { get; init; } = Metrics.PsnrY;

    public bool Augment { get; init; } = true;
    public int Seed { get; init; } = 0;

    /// <summary>CPU threads for libtorch; 0 = all cores. Ignored on CUDA.</summary>
    public int Threads { get; init; } = 0;

    /// <summary>
    /// Quantization-aware training from this float checkpoint: the forward pass is the int8 graph's (fake-quant
    /// with straight-through gradients), activation ranges start from a min/max calibration, follow an EMA for
    /// <see cref="QatObserveIterations"/> steps, then freeze. Null = float training.
    /// </summary>
    public string? QatFrom { get; init; }

    /// <summary><c>uint8</c> (x86) or <c>int8</c> (ARM) activations for QAT.</summary>
    public string QatActivations { get; init; } = "uint8";

    public int QatObserveIterations { get; init; } = 2000;

    /// <summary>Stop (with checkpoint and validation) once this much wall time has passed; null = no limit.</summary>
    public double? MaxMinutes { get; init; }

    /// <summary>Collect the .NET heap every this many steps: finalizer-held native objects otherwise fragment the C heap (~5 MB/step).</summary>
    public int CollectEvery { get; init; } = 10;

    public AbpnArchitecture Architecture => new(Scale, Depth, Width);

    /// <summary>
    /// The seed's QAT schedule, the defaults of a <c>--qat</c> run: lr 1e-4 (the paper), 220 epochs of 1000
    /// iterations, halved at epochs 50/100/150/200.
    /// </summary>
    public TrainingOptions WithQatSchedule() => this with
    {
        LearningRate = 1e-4,
        Iterations = 220 * IterationsPerEpoch,
        LearningRateMilestones = [50L * IterationsPerEpoch, 100L * IterationsPerEpoch, 150L * IterationsPerEpoch, 200L * IterationsPerEpoch],
    };

    /// <summary>The learning rate in force at <paramref name="iteration"/> (0-based step index).</summary>
    public double LearningRateAt(long iteration) =>
        LearningRate * Math.Pow(LearningRateGamma, LearningRateMilestones.Count(m => iteration >= m))
        * (iteration < WarmupIterations ? (iteration + 1.0) / WarmupIterations : 1.0);
}

public static class Metrics
{
    public const string PsnrY = "psnr_y";
    public const string SsimY = "ssim_y";
    public const string PsnrRgb = "psnr_rgb";
    public const string SsimRgb = "ssim_rgb";

    public static readonly string[] All = [PsnrY, SsimY, PsnrRgb, SsimRgb];
}
