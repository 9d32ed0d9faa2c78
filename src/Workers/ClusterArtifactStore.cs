using SrMobile.Artifacts;
using SrMobile.Contracts;

namespace SrMobile.Workers;

/// <summary>
/// The artifact store of a device worker without a storage credential (an agent in client mode): artifacts come
/// through the cluster (<see cref="IDeviceArtifactsGrain"/>) in chunks under the worker's session, and are kept only
/// when their SHA-256 is the recorded one. It stores nothing.
/// </summary>
public sealed class ClusterArtifactStore(IGrainFactory grains, DeviceSessionHolder sessions) : IArtifactStore
{
    public Task<Artifact> Put(string kind, string key, string localPath, CancellationToken cancellation) =>
        throw new NotSupportedException($"a device agent stores no artifacts ({kind} {key})");

    public async Task<string> Fetch(Artifact artifact, string destinationFolder, CancellationToken cancellation)
    {
        var session = sessions.Current ?? throw new InvalidOperationException($"fetching {artifact.Uri} before the device worker joined the cluster");
        Directory.CreateDirectory(destinationFolder);
        var path = Path.Combine(destinationFolder, artifact.Sha256 + Path.GetExtension(new Uri(artifact.Uri).AbsolutePath));
        if (File.Exists(path) && await ArtifactFiles.Sha256(path, cancellation) == artifact.Sha256)
            return path;
        var partial = path + ".part";
        var reader = grains.GetGrain<IDeviceArtifactsGrain>(artifact.Sha256);
        await using (var file = new FileStream(partial, FileMode.Create, FileAccess.Write))
        {
            while (file.Length < artifact.Bytes)
            {
                var chunk = await reader.Read(session.Id, artifact, file.Length, IDeviceArtifactsGrain.MaxChunk).WaitAsync(cancellation);
                if (chunk.Length == 0)
                    throw new InvalidDataException($"artifact {artifact.Uri} ended at {file.Length} of its recorded {artifact.Bytes} bytes");
                await file.WriteAsync(chunk, cancellation);
            }
        }
        try
        {
            await ArtifactFiles.Verify(artifact, partial, cancellation);
        }
        catch
        {
            File.Delete(partial);
            throw;
        }
        File.Move(partial, path, overwrite: true);
        return path;
    }
}
