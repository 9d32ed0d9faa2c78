using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using SrMobile.Contracts;
using SrMobile.Engine.Models;
using SrMobile.Training.Trainer;
using SrMobile.Workers;

namespace SrMobile.Trainer;

/// <summary>
/// Training that only pretends (<c>SrMobile:Simulate</c>; see <see cref="SimulatedMeasurer"/>): quality grows with the
/// parameter count plus a fixed per-candidate jitter, and <see cref="SimulatedWorkOptions.FailingAttempts"/> first
/// attempts fail to exercise recovery. The artifacts list is empty: nothing here is ever a real result.
/// </summary>
public sealed class SimulatedTrainer(IOptions<SimulatedWorkOptions> options) : ICandidateTrainer
{
    private readonly ConcurrentDictionary<string, int> attempts = new();

    public TrainedCandidate Run(CandidateSpec spec, Action<string, TrainingProgress?> report, CancellationToken cancellation)
    {
        report("training", null);
        if (attempts.AddOrUpdate(spec.Key, 1, (_, n) => n + 1) <= options.Value.FailingAttempts)
            throw new IOException($"simulated failure of {spec.Key}");
        if (options.Value.TrainingTime > TimeSpan.Zero)
            cancellation.WaitHandle.WaitOne(options.Value.TrainingTime);
        cancellation.ThrowIfCancellationRequested();
        report("quantizing", null);
        var psnr = Psnr(spec);
        return new TrainedCandidate(psnr + 0.05, psnr, 0.9, spec.Training.Iterations, []);
    }

    /// <summary>Simulated training keeps nothing to resume from.</summary>
    public IReadOnlyList<string> ResumeFiles(CandidateSpec spec) => [];

    private static double Psnr(CandidateSpec spec)
    {
        var parameters = new AbpnArchitecture(spec.Scale, spec.Depth, spec.Width).ParameterCount;
        return 36 - 2.5 * spec.Scale + 0.4 * Math.Log2(parameters) + 0.3 * SimulatedMeasurer.Jitter(spec.Key);
    }
}
