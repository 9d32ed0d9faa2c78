namespace SrMobile.Contracts;

/// <summary>A stored file: where it is and its SHA-256, so a consumer can verify what it fetched.</summary>
[GenerateSerializer, Immutable]
public sealed record Artifact(
    [property: Id(0)] string Kind,
    [property: Id(1)] string Uri,
    [property: Id(2)] string Sha256,
    [property: Id(3)] long Bytes);

/// <summary>What a trainer hands back: float and int8 quality (int8 = what the engine really output) and the artifacts.</summary>
[GenerateSerializer, Immutable]
public sealed record TrainedCandidate(
    [property: Id(0)] double FloatPsnr,
    [property: Id(1)] double Int8Psnr,
    [property: Id(2)] double Int8Ssim,
    [property: Id(3)] long Iterations,
    [property: Id(4)] IReadOnlyList<Artifact> Artifacts);
