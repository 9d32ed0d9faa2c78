using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Storage;

namespace SrMobile.Grains.Storage;

/// <summary>
/// Durable grain storage in a local folder, for the embedded one-machine cluster (Orleans' memory storage would
/// lose a search on restart). One file per grain state: a version (the ETag), the grain id, and the state in
/// Orleans' own binary serialization; written to a temporary file, flushed and renamed, so a crash leaves either
/// the old state or the new one, never a mix. A write whose ETag is stale is refused, as Orleans expects.
/// </summary>
public sealed class FileGrainStorage(string root, Serializer serializer) : IGrainStorage
{
    private static readonly byte[] Magic = "SRMGRN1\n"u8.ToArray();

    public string Root { get; } = root;

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var path = PathOf(stateName, grainId);
        if (!File.Exists(path))
        {
            grainState.RecordExists = false;
            grainState.ETag = null;
            return;
        }
        var (version, payload) = Parse(await File.ReadAllBytesAsync(path), path);
        grainState.State = serializer.Deserialize<T>(payload);
        grainState.ETag = version.ToString(System.Globalization.CultureInfo.InvariantCulture);
        grainState.RecordExists = true;
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var path = PathOf(stateName, grainId);
        var stored = StoredVersion(path);
        CheckETag(stored, grainState.ETag, grainId);
        var version = (stored ?? 0) + 1;
        var payload = serializer.SerializeToArray(grainState.State);
        using (var buffer = new MemoryStream())
        {
            using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
            {
                writer.Write(Magic);
                writer.Write(version);
                writer.Write(grainId.ToString());
                writer.Write(payload.Length);
                writer.Write(payload);
            }
            await WriteAtomically(path, buffer.ToArray());
        }
        grainState.ETag = version.ToString(System.Globalization.CultureInfo.InvariantCulture);
        grainState.RecordExists = true;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var path = PathOf(stateName, grainId);
        if (File.Exists(path))
        {
            CheckETag(StoredVersion(path), grainState.ETag, grainId);
            File.Delete(path);
        }
        grainState.ETag = null;
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }

    private static void CheckETag(long? stored, string? expected, GrainId grainId)
    {
        var current = stored?.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (current != expected)
            throw new InconsistentStateException($"grain {grainId}: stored version {current ?? "(none)"}, the write expected {expected ?? "(none)"}", current, expected);
    }

    /// <summary>The version in the file's header (the rest of the file is not read), or null without a file.</summary>
    private static long? StoredVersion(string path)
    {
        if (!File.Exists(path))
            return null;
        using var file = File.OpenRead(path);
        var header = new byte[Magic.Length + sizeof(long)];
        if (file.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length || !header.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new InvalidDataException($"{path}: grain state file is damaged (no header)");
        return System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(Magic.Length));
    }

    private static (long Version, byte[] Payload) Parse(byte[] bytes, string path)
    {
        try
        {
            using var reader = new BinaryReader(new MemoryStream(bytes), Encoding.UTF8);
            if (!reader.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic))
                throw new InvalidDataException("no header");
            var version = reader.ReadInt64();
            reader.ReadString();
            var payload = reader.ReadBytes(reader.ReadInt32());
            return (version, payload);
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException)
        {
            throw new InvalidDataException($"{path}: grain state file is damaged ({e.Message})", e);
        }
    }

    private string PathOf(string stateName, GrainId grainId)
    {
        // Grain keys hold '/' and other characters no file name may: the file is named by a hash of the id.
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(grainId.ToString()))).ToLowerInvariant();
        return Path.Combine(Root, stateName, grainId.Type.ToString() ?? "grain", hash[..2], $"{hash}.state");
    }

    private static async Task WriteAtomically(string path, byte[] bytes)
    {
        var directory = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096, FileOptions.WriteThrough))
        {
            await file.WriteAsync(bytes);
            await file.FlushAsync();
        }
        File.Move(temporary, path, overwrite: true);
    }
}

public static class FileGrainStorageExtensions
{
    /// <summary>Registers <see cref="FileGrainStorage"/> under <paramref name="name"/>, keeping its files in <paramref name="root"/>.</summary>
    public static ISiloBuilder AddFileGrainStorage(this ISiloBuilder silo, string name, string root)
    {
        silo.Services.AddKeyedSingleton<IGrainStorage>(name, (services, _) => new FileGrainStorage(root, services.GetRequiredService<Serializer>()));
        return silo;
    }
}
