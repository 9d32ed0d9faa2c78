using SrMobile.Contracts;
using SrMobile.Training.Trainer;

namespace SrMobile.Trainer;

/// <summary>A trainer's work on one candidate: train, quantize, export, score; the report callback takes (stage, progress).</summary>
public interface ICandidateTrainer
{
    TrainedCandidate Run(CandidateSpec spec, Action<string, TrainingProgress?> report, CancellationToken cancellation);

    /// <summary>The files under the work folder a resumed run of <paramref name="spec"/> continues from (checkpoints, options, records).</summary>
    IReadOnlyList<string> ResumeFiles(CandidateSpec spec);
}
