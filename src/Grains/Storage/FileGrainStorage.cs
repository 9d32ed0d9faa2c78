using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Storage;
using SrMobile.Contracts;

namespace SrMobile.Grains.Storage;

/// <summary>
/// Durable grain state in a local folder, for the embedded one-machine cluster (Orleans' memory storage would lose a
/// search on restart). One file per grain state: a header (format, version = the ETag, the grain id, the payload's
/// length and SHA-256) and the state in Orleans' own binary serialization, written through <see cref="DurableFile"/>,
/// so a crash leaves the old state or the new one. A truncated or damaged file is found on read, by its length and
/// checksum, and named in the error instead of being deserialized into garbage. A write whose ETag is stale is refused,
/// as Orleans expects. Files of the first format (no checksum) are still read, and written in the current one.
/// </summary>
public sealed class FileGrainStorage(string root, Serializer serializer) : IGrainStorage
{
    private static readonly byte[] Magic = "SRMGRN2\n"u8.ToArray();
    private static readonly byte[] FirstMagic = "SRMGRN1\n"u8.ToArray();

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
        try
        {
            grainState.State = serializer.Deserialize<T>(payload);
        }
        catch (Exception e) when (e is SerializerException or InvalidCastException or NotSupportedException)
        {
            throw new InvalidDataException($"{path}: the state of {grainId} cannot be read as {typeof(T).Name} ({e.Message})", e);
        }
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
                writer.Write(SHA256.HashData(payload));
                writer.Write(payload);
            }
            await DurableFile.Write(path, buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
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
            DurableFile.FlushFolder(Path.GetDirectoryName(path)!);
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
        if (file.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length || !IsMagic(header.AsSpan(0, Magic.Length)))
            throw new InvalidDataException($"{path}: grain state file is damaged (no header)");
        return System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(Magic.Length));
    }

    private static bool IsMagic(ReadOnlySpan<byte> bytes) => bytes.SequenceEqual(Magic) || bytes.SequenceEqual(FirstMagic);

    private static (long Version, byte[] Payload) Parse(byte[] bytes, string path)
    {
        try
        {
            using var reader = new BinaryReader(new MemoryStream(bytes), Encoding.UTF8);
            var magic = reader.ReadBytes(Magic.Length);
            if (!IsMagic(magic))
                throw new InvalidDataException("no header");
            var checksummed = magic.AsSpan().SequenceEqual(Magic);
            var version = reader.ReadInt64();
            reader.ReadString();
            var length = reader.ReadInt32();
            var checksum = checksummed ? reader.ReadBytes(SHA256.HashSizeInBytes) : null;
            var remaining = bytes.Length - reader.BaseStream.Position;
            if (length < 0 || remaining != length)
                throw new InvalidDataException($"its header declares {length} bytes of state, the file holds {remaining}: truncated or overwritten");
            var payload = reader.ReadBytes(length);
            if (checksum is not null && !SHA256.HashData(payload).AsSpan().SequenceEqual(checksum))
                throw new InvalidDataException("the state's SHA-256 does not match its header");
            return (version, payload);
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException)
        {
            throw new InvalidDataException($"{path}: grain state file is damaged ({e.Message}); restore it from a backup or delete it to forget that grain", e);
        }
    }

    private string PathOf(string stateName, GrainId grainId)
    {
        // Grain keys hold '/' and other characters no file name may: the file is named by a hash of the id.
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(grainId.ToString()))).ToLowerInvariant();
        return Path.Combine(Root, stateName, grainId.Type.ToString() ?? "grain", hash[..2], $"{hash}.state");
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
