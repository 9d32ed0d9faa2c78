using SrMobile.Contracts;

namespace SrMobile.Workers;

/// <summary>A device's work on one trained candidate: latency under the spec's protocol and the PSNR of its own output.</summary>
public interface ICandidateMeasurer
{
    /// <summary>What measures (engine and version), as the device registry shows it.</summary>
    string Engine { get; }

    Task<DeviceMeasurement> Measure(string device, CandidateSpec spec, TrainedCandidate trained, CancellationToken cancellation);

    /// <summary>Runs the canary (<see cref="CanaryModel"/>) under its fixed protocol; null where there is no machine to watch (simulated work).</summary>
    Task<CanaryRun?> Canary(CancellationToken cancellation);
}
