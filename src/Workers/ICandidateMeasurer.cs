using SrMobile.Contracts;

namespace SrMobile.Workers;

/// <summary>A device's work on one trained candidate: latency under the spec's protocol and the PSNR of its own output.</summary>
public interface ICandidateMeasurer
{
    /// <summary>What measures (engine and version), as the device registry shows it.</summary>
    string Engine { get; }

    Task<DeviceMeasurement> Measure(string device, CandidateSpec spec, TrainedCandidate trained, CancellationToken cancellation);

    /// <summary>
    /// A front's confirmation: the candidates' int8 graphs measured again interleaved run by run (A, B, C, A, B, C, …)
    /// in one engine session each, under their search's protocol, so the machine's changes touch them all alike.
    /// </summary>
    Task<IReadOnlyList<ConfirmedTime>> Confirm(string device, IReadOnlyList<CandidateView> candidates, CancellationToken cancellation);

    /// <summary>Runs the canary (<see cref="CanaryModel"/>) under its fixed protocol; null where there is no machine to watch (simulated work).</summary>
    Task<CanaryRun?> Canary(CancellationToken cancellation);
}
