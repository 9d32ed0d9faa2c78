namespace SrMobile.Training.Trainer;

/// <summary>What a running trainer reports after each step and each validation.</summary>
public sealed record TrainingProgress(
    long Iteration,
    long TotalIterations,
    double Loss,
    double LearningRate,
    double StepsPerSecond,
    TimeSpan Elapsed,
    IReadOnlyDictionary<string, double>? LastValidation);

public sealed record TrainingResult(
    long Iteration,
    bool Completed,
    string StopReason,
    IReadOnlyDictionary<string, double>? LastValidation,
    double StepsPerSecond);
