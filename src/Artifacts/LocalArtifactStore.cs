using SrMobile.Contracts;

namespace SrMobile.Artifacts;

/// <summary>
/// Artifacts in a local folder (the one-machine cluster), recorded with file:// URIs. A file already inside the
/// folder is recorded where it is; any other is copied in under its key (written aside and renamed, so a reader never
/// sees half a file).
/// </summary>
public sealed class LocalArtifactStore(string root) : IArtifactStore
{
    public string Root { get; } = Path.GetFullPath(root);

    public async Task<Artifact> Put(string kind, string key, string localPath, CancellationToken cancellation)
    {
        var source = Path.GetFullPath(localPath);
        if (!File.Exists(source))
            throw new FileNotFoundException($"artifact {kind} '{key}': {source} does not exist", source);
        // Checked even for a file recorded where it is: a key is a blob name in the other store, and must be one.
        var checkedKey = ArtifactFiles.CheckKey(key);
        var target = IsInside(source) ? source : Path.Combine(Root, checkedKey.Replace('/', Path.DirectorySeparatorChar));
        if (target != source)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            var temporary = $"{target}.{Guid.NewGuid():N}.tmp";
            File.Copy(source, temporary);
            File.Move(temporary, target, overwrite: true);
        }
        var sha = await ArtifactFiles.Sha256(target, cancellation);
        return new Artifact(kind, new Uri(target).AbsoluteUri, sha, new FileInfo(target).Length);
    }

    public async Task<string> Fetch(Artifact artifact, string destinationFolder, CancellationToken cancellation)
    {
        if (!ArtifactFiles.TryLocalPath(artifact, out _))
            throw new NotSupportedException($"artifact {artifact.Uri}: the local artifact store reads file:// URIs only (is SrMobile:Storage:Kind 'azure' on the silo that stored it?)");
        var path = ArtifactFiles.LocalPathUnder(artifact, Root);
        if (!File.Exists(path))
            throw new FileNotFoundException($"artifact {artifact.Uri} ({artifact.Kind}): {path} does not exist", path);
        await ArtifactFiles.Verify(artifact, path, cancellation);
        return path;
    }

    private bool IsInside(string path) =>
        path.StartsWith(Root.EndsWith(Path.DirectorySeparatorChar) ? Root : Root + Path.DirectorySeparatorChar, StringComparison.Ordinal);
}
