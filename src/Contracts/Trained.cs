namespace SrMobile.Contracts;

/// <summary>A stored file: where it is and its SHA-256, so a consumer can verify what it fetched.</summary>
[GenerateSerializer, Immutable]
public sealed record Artifact(
    [property: Id(0)] string Kind,
    [property: Id(1)] string Uri,
    [property: Id(2)] string Sha256,
    [property: Id(3)] long Bytes);

/// <summary>The engine's own quality on the validation images for the int8 graph of one activation type.</summary>
[GenerateSerializer, Immutable]
public sealed record Int8Quality(
    [property: Id(0)] string Activations,
    [property: Id(1)] double Psnr,
    [property: Id(2)] double Ssim);

/// <summary>
/// What a trainer hands back: float and int8 quality (int8 = what the engine really output; <see cref="Int8Psnr"/>
/// is the uint8-activation graph's, <see cref="Graphs"/> every exported graph's) and the artifacts.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record TrainedCandidate(
    [property: Id(0)] double FloatPsnr,
    [property: Id(1)] double Int8Psnr,
    [property: Id(2)] double Int8Ssim,
    [property: Id(3)] long Iterations,
    [property: Id(4)] IReadOnlyList<Artifact> Artifacts,
    [property: Id(5)] IReadOnlyList<Int8Quality>? Graphs = null)
{
    /// <summary>The trainer's int8 PSNR of the graph of <paramref name="activations"/>; null when it exported none.</summary>
    public double? Int8PsnrOf(string activations) =>
        Graphs?.FirstOrDefault(g => g.Activations == activations)?.Psnr ?? (activations == ActivationTypes.UInt8 ? Int8Psnr : null);
}
