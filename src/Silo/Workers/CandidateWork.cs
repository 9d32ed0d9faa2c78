using SrMobile.Contracts;
using SrMobile.Training.Trainer;

namespace SrMobile.Silo.Workers;

/// <summary>A trainer's work on one candidate: train, quantize, export, score; the report callback takes (stage, progress).</summary>
public interface ICandidateTrainer
{
    TrainedCandidate Run(CandidateSpec spec, Action<string, TrainingProgress?> report, CancellationToken cancellation);

    /// <summary>The files under the work folder a resumed run of <paramref name="spec"/> continues from (checkpoints, options, records).</summary>
    IReadOnlyList<string> ResumeFiles(CandidateSpec spec);
}

/// <summary>A device's work on one trained candidate: latency under the spec's protocol and the PSNR of its own output.</summary>
public interface ICandidateMeasurer
{
    /// <summary>What measures (engine and version), as the device registry shows it.</summary>
    string Engine { get; }

    Task<DeviceMeasurement> Measure(string device, CandidateSpec spec, TrainedCandidate trained, CancellationToken cancellation);
}
