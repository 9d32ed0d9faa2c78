using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using SrMobile.Contracts;

namespace SrMobile.Artifacts;

/// <summary>
/// Artifacts in Azure Blob container <c>artifacts</c> (the azure storage kind): blob name = key, the SHA-256 kept as
/// blob metadata (<c>sha256</c>), the artifact's URI the blob's. A fetch downloads into the destination folder (written
/// aside and renamed) and checks the hash; a file already there with the right hash is not downloaded again.
/// file:// artifacts (stored by a local-kind silo) are read where they are only under <paramref name="localRoot"/>
/// (<c>SrMobile:Storage:ArtifactFolder</c>); without one they are refused.
/// </summary>
public sealed class BlobArtifactStore(BlobServiceClient service, string containerName = BlobArtifactStore.DefaultContainer, string? localRoot = null) : IArtifactStore
{
    public const string DefaultContainer = "artifacts";
    public const string ShaMetadata = "sha256";

    private readonly BlobContainerClient container = service.GetBlobContainerClient(containerName);
    private volatile bool containerExists;

    public async Task<Artifact> Put(string kind, string key, string localPath, CancellationToken cancellation)
    {
        if (!File.Exists(localPath))
            throw new FileNotFoundException($"artifact {kind} '{key}': {localPath} does not exist", localPath);
        var blob = container.GetBlobClient(ArtifactFiles.CheckKey(key));
        var sha = await ArtifactFiles.Sha256(localPath, cancellation);
        var length = new FileInfo(localPath).Length;
        if (!await AlreadyStored(blob, sha, length, cancellation))
        {
            await EnsureContainer(cancellation);
            await blob.UploadAsync(localPath, new BlobUploadOptions { Metadata = new Dictionary<string, string> { [ShaMetadata] = sha } }, cancellation);
        }
        return new Artifact(kind, blob.Uri.AbsoluteUri, sha, length);
    }

    public async Task<string> Fetch(Artifact artifact, string destinationFolder, CancellationToken cancellation)
    {
        if (ArtifactFiles.TryLocalPath(artifact, out _))
        {
            if (localRoot is null)
                throw new ArgumentException($"artifact {artifact.Uri} ({artifact.Kind}) is a file:// URI, and this blob store has no local artifact root (SrMobile:Storage:ArtifactFolder) to read one under", nameof(artifact));
            var local = ArtifactFiles.LocalPathUnder(artifact, localRoot);
            await ArtifactFiles.Verify(artifact, local, cancellation);
            return local;
        }
        var blob = container.GetBlobClient(BlobName(artifact));
        var path = Path.Combine(Path.GetFullPath(destinationFolder), blob.Name.Replace('/', Path.DirectorySeparatorChar));
        if (File.Exists(path) && string.Equals(await ArtifactFiles.Sha256(path, cancellation), artifact.Sha256, StringComparison.OrdinalIgnoreCase))
            return path;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            await blob.DownloadToAsync(temporary, cancellation);
            await ArtifactFiles.Verify(artifact, temporary, cancellation);
            File.Move(temporary, path, overwrite: true);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            throw new FileNotFoundException($"artifact {artifact.Uri} ({artifact.Kind}): no such blob", e);
        }
        catch (InvalidDataException e)
        {
            // The message names the temporary download; the caller wants the artifact and where it would have gone.
            throw new InvalidDataException(e.Message.Replace(temporary, path, StringComparison.Ordinal), e);
        }
        finally
        {
            File.Delete(temporary);
        }
        return path;
    }

    /// <summary>
    /// The blob name inside this store's container; a URI of another account or container, or a name that is no
    /// valid key (it becomes a path under the destination folder: "..", a rooted name), is refused by name.
    /// </summary>
    private string BlobName(Artifact artifact)
    {
        var prefix = container.Uri.AbsoluteUri.TrimEnd('/') + "/";
        if (!artifact.Uri.StartsWith(prefix, StringComparison.Ordinal))
            throw new ArgumentException($"artifact {artifact.Uri} ({artifact.Kind}) is not in this store's container {container.Uri}", nameof(artifact));
        var name = Uri.UnescapeDataString(artifact.Uri[prefix.Length..]);
        try
        {
            return ArtifactFiles.CheckKey(name);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"artifact {artifact.Uri} ({artifact.Kind}): {e.Message}", nameof(artifact), e);
        }
    }

    /// <summary>A requeued job uploads the same files again: the metadata says whether the bytes are already there.</summary>
    private static async Task<bool> AlreadyStored(BlobClient blob, string sha, long length, CancellationToken cancellation)
    {
        try
        {
            var properties = (await blob.GetPropertiesAsync(cancellationToken: cancellation)).Value;
            return properties.ContentLength == length && properties.Metadata.TryGetValue(ShaMetadata, out var stored) && stored == sha;
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return false;
        }
    }

    private async Task EnsureContainer(CancellationToken cancellation)
    {
        if (containerExists)
            return;
        await container.CreateIfNotExistsAsync(cancellationToken: cancellation);
        containerExists = true;
    }
}
