using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using SrMobile.Contracts;
using SrMobile.Engine.Models;
using SrMobile.Training.Trainer;

namespace SrMobile.Silo.Workers;

/// <summary>Settings of <see cref="SimulatedWork"/> (configuration section <c>SrMobile:Simulated</c>).</summary>
public sealed class SimulatedWorkOptions
{
    public const string Section = "SrMobile:Simulated";

    /// <summary>How long a simulated training takes (none by default: the benchmark times the cluster alone).</summary>
    public TimeSpan TrainingTime { get; set; }

    /// <summary>How long a simulated measurement takes (none by default).</summary>
    public TimeSpan MeasurementTime { get; set; }

    /// <summary>How many of a candidate's first training attempts fail (an I/O error), to exercise recovery.</summary>
    public int FailingAttempts { get; set; }
}

/// <summary>
/// Training and measuring that only pretend (<c>SrMobile:Simulate</c>): the cluster's own costs (grains, leases,
/// storage, fronts) measured without the work, for the 10,000-candidate benchmark and cluster tests. Quality grows
/// with the parameter count and latency with the multiply-adds, plus a fixed per-candidate jitter, so fronts are
/// not trivial; the same candidate always gets the same numbers. Nothing here is ever reported as a real result:
/// the artifacts list is empty and the engine is named "simulated".
/// </summary>
public sealed class SimulatedWork(IOptions<SimulatedWorkOptions> options) : ICandidateTrainer, ICandidateMeasurer
{
    private readonly ConcurrentDictionary<string, int> attempts = new();

    public string Engine => "simulated";

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

    public async Task<DeviceMeasurement> Measure(string device, CandidateSpec spec, TrainedCandidate trained, CancellationToken cancellation)
    {
        if (options.Value.MeasurementTime > TimeSpan.Zero)
            await Task.Delay(options.Value.MeasurementTime, cancellation);
        var architecture = new AbpnArchitecture(spec.Scale, spec.Depth, spec.Width);
        var pixels = (double)spec.Protocol.Height * spec.Protocol.Width;
        // 100 GMAC/s, about what the int8 engine reaches on this kind of CPU (docs/BENCHMARKS.md).
        var milliseconds = 0.5 + architecture.MacsPerPixel * pixels / 1e8 * (1 + 0.2 * Jitter(spec.Key + device));
        return new DeviceMeasurement(device, milliseconds, milliseconds * 1.05, 1, Engine, trained.Int8Psnr, trained.Int8Ssim, "{}");
    }

    private static double Psnr(CandidateSpec spec)
    {
        var parameters = new AbpnArchitecture(spec.Scale, spec.Depth, spec.Width).ParameterCount;
        return 36 - 2.5 * spec.Scale + 0.4 * Math.Log2(parameters) + 0.3 * Jitter(spec.Key);
    }

    /// <summary>A fixed value in [0, 1) per text.</summary>
    private static double Jitter(string text) => BitConverter.ToUInt32(SHA256.HashData(Encoding.UTF8.GetBytes(text))) / (double)uint.MaxValue;
}
