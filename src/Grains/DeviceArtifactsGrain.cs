using Microsoft.Extensions.Options;
using SrMobile.Artifacts;
using SrMobile.Contracts;
using SrMobile.Grains.Placement;

namespace SrMobile.Grains;

/// <summary>Settings of <see cref="DeviceArtifactsGrain"/>: where the coordinator keeps artifacts it fetched from a remote store.</summary>
public sealed class DeviceArtifactOptions
{
    public string CacheFolder { get; set; } = Path.Combine(Path.GetTempPath(), "srmobile-device-artifacts");
}

/// <summary>
/// See <see cref="IDeviceArtifactsGrain"/>: on the coordinator, which holds the storage credential, so an agent needs
/// none. The artifact is fetched once per activation (its SHA-256 checked by the store) and served from that file.
/// </summary>
[SiloRole(SiloRoles.Coordinator)]
public sealed class DeviceArtifactsGrain(IArtifactStore store, IOptions<DeviceArtifactOptions> options) : Grain, IDeviceArtifactsGrain
{
    private readonly Dictionary<string, string> fetched = [];

    public async Task<byte[]> Read(Guid session, Artifact artifact, long offset, int count)
    {
        var answer = await GrainFactory.GetGrain<IDeviceRegistryGrain>(IDeviceRegistryGrain.Key).Check(session);
        if (!answer.Live)
            throw new DeviceSessionRefusedException($"artifact {artifact.Uri} refused: {answer.Refusal}");
        if (offset < 0 || count is < 0 or > IDeviceArtifactsGrain.MaxChunk)
            throw new ArgumentOutOfRangeException(nameof(count), $"a read of {count} bytes at {offset} of {artifact.Uri}: expected 0 to {IDeviceArtifactsGrain.MaxChunk} bytes from offset 0 on");
        if (!fetched.TryGetValue(artifact.Sha256, out var path))
            fetched[artifact.Sha256] = path = await store.Fetch(artifact, options.Value.CacheFolder, CancellationToken.None);
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var length = (int)Math.Clamp(file.Length - offset, 0, count);
        var chunk = new byte[length];
        file.Position = offset;
        await file.ReadExactlyAsync(chunk);
        return chunk;
    }
}
