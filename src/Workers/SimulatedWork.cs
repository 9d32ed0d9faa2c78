using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using SrMobile.Contracts;
using SrMobile.Engine.Models;

namespace SrMobile.Workers;

/// <summary>Settings of simulated work (configuration section <c>SrMobile:Simulated</c>).</summary>
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
/// Measuring that only pretends (<c>SrMobile:Simulate</c>): the cluster's own costs (grains, leases, storage, fronts)
/// measured without the work, for the 10,000-candidate benchmark and cluster tests. Latency grows with the
/// multiply-adds, plus a fixed per-candidate jitter, so fronts are not trivial; the same candidate always gets the
/// same numbers. Nothing here is ever reported as a real result: the engine is named "simulated".
/// </summary>
public sealed class SimulatedMeasurer(IOptions<SimulatedWorkOptions> options) : ICandidateMeasurer
{
    public const string EngineName = "simulated";

    public string Engine => EngineName;

    public async Task<DeviceMeasurement> Measure(string device, CandidateSpec spec, TrainedCandidate trained, CancellationToken cancellation)
    {
        if (options.Value.MeasurementTime > TimeSpan.Zero)
            await Task.Delay(options.Value.MeasurementTime, cancellation);
        var milliseconds = Milliseconds(device, spec);
        return new DeviceMeasurement(device, milliseconds, milliseconds * 1.05, 1, Engine, trained.Int8Psnr, trained.Int8Ssim, "{}", Cov: 0);
    }

    /// <summary>The same numbers again: a simulated machine has no moods to confirm away.</summary>
    public async Task<IReadOnlyList<ConfirmedTime>> Confirm(string device, IReadOnlyList<CandidateView> candidates, CancellationToken cancellation)
    {
        if (options.Value.MeasurementTime > TimeSpan.Zero)
            await Task.Delay(options.Value.MeasurementTime, cancellation);
        return [.. candidates.Select(c => new ConfirmedTime(c.Key, Milliseconds(device, c.Spec!), 0, "{}"))];
    }

    private static double Milliseconds(string device, CandidateSpec spec)
    {
        var architecture = new AbpnArchitecture(spec.Scale, spec.Depth, spec.Width);
        var pixels = (double)spec.Protocol.Height * spec.Protocol.Width;
        // 100 GMAC/s, about what the int8 engine reaches on this kind of CPU (docs/BENCHMARKS.md).
        return 0.5 + architecture.MacsPerPixel * pixels / 1e8 * (1 + 0.2 * Jitter(spec.Key + device));
    }

    /// <summary>Simulated work watches no machine, so it has no canary.</summary>
    public Task<CanaryRun?> Canary(CancellationToken cancellation) => Task.FromResult<CanaryRun?>(null);

    /// <summary>A fixed value in [0, 1) per text.</summary>
    public static double Jitter(string text) => BitConverter.ToUInt32(SHA256.HashData(Encoding.UTF8.GetBytes(text))) / (double)uint.MaxValue;
}
