using Azure.Storage.Blobs;
using SrMobile.Contracts;
using SrMobile.Tests;

namespace SrMobile.Artifacts.Tests;

public class ArtifactStoreTests
{
    private static string WriteModel(TemporaryFolder work, string name, int bytes = 4096)
    {
        var path = work.File(name);
        var content = new byte[bytes];
        new Random(bytes).NextBytes(content);
        File.WriteAllBytes(path, content);
        return path;
    }

    [Fact]
    public async Task Local_store_copies_a_file_in_records_one_already_inside_where_it_is_and_fetches_both_verified()
    {
        using var work = TestData.NewTemporaryFolder();
        var store = new LocalArtifactStore(work.File("store"));
        var outside = WriteModel(work, "model.int8.onnx");

        var copied = await store.Put("int8-onnx", "candidates/ab12/model.int8.onnx", outside, CancellationToken.None);
        var copiedPath = new Uri(copied.Uri).LocalPath;
        Assert.Equal(Path.Combine(store.Root, "candidates", "ab12", "model.int8.onnx"), copiedPath);
        Assert.Equal(await ArtifactFiles.Sha256(outside, CancellationToken.None), copied.Sha256);
        Assert.Equal(4096, copied.Bytes);
        Assert.Equal(copiedPath, await store.Fetch(copied, work.File("fetched"), CancellationToken.None));

        var inside = await store.Put("int8-onnx", "ignored/for/files/inside", copiedPath, CancellationToken.None);
        Assert.Equal(copied, inside);

        File.WriteAllBytes(copiedPath, [1, 2, 3]);
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => store.Fetch(copied, work.File("fetched"), CancellationToken.None));
        Assert.Contains(copied.Uri, error.Message);
        Assert.Contains(copied.Sha256, error.Message);
    }

    [Theory]
    [InlineData("../escape.onnx")]
    [InlineData("/rooted.onnx")]
    [InlineData("a//b.onnx")]
    public async Task A_key_outside_the_store_is_refused_by_name(string key)
    {
        using var work = TestData.NewTemporaryFolder();
        var error = await Assert.ThrowsAsync<ArgumentException>(() =>
            new LocalArtifactStore(work.File("store")).Put("int8-onnx", key, WriteModel(work, "m.onnx"), CancellationToken.None));
        Assert.Contains($"'{key}'", error.Message);
    }

    [Fact]
    public async Task Blob_store_round_trip_against_azurite_keeps_the_hash_as_metadata()
    {
        using var work = TestData.NewTemporaryFolder();
        await using var azurite = await Azurite.StartNew();
        var service = new BlobServiceClient(azurite.ConnectionString);
        var store = new BlobArtifactStore(service);
        var model = WriteModel(work, "model.int8.onnx", 300_000);

        var artifact = await store.Put("int8-onnx", "candidates/ab12/model.int8.onnx", model, CancellationToken.None);
        Assert.Equal($"http://127.0.0.1:{azurite.BlobPort}/{Azurite.AccountName}/artifacts/candidates/ab12/model.int8.onnx", artifact.Uri);
        Assert.Equal(300_000, artifact.Bytes);
        var blob = service.GetBlobContainerClient("artifacts").GetBlobClient("candidates/ab12/model.int8.onnx");
        Assert.Equal(artifact.Sha256, (await blob.GetPropertiesAsync()).Value.Metadata[BlobArtifactStore.ShaMetadata]);
        Assert.Equal(artifact, await store.Put("int8-onnx", "candidates/ab12/model.int8.onnx", model, CancellationToken.None));

        var fetched = await store.Fetch(artifact, work.File("device"), CancellationToken.None);
        Assert.Equal(work.File(Path.Combine("device", "candidates", "ab12", "model.int8.onnx")), fetched);
        Assert.Equal(File.ReadAllBytes(model), File.ReadAllBytes(fetched));
        Assert.Equal(fetched, await store.Fetch(artifact, work.File("device"), CancellationToken.None)); // cached, still verified
    }

    [Fact]
    public async Task A_tampered_blob_is_a_clear_sha_error_and_leaves_no_file_behind()
    {
        using var work = TestData.NewTemporaryFolder();
        await using var azurite = await Azurite.StartNew();
        var service = new BlobServiceClient(azurite.ConnectionString);
        var store = new BlobArtifactStore(service);
        var artifact = await store.Put("int8-onnx", "candidates/cd34/model.int8.onnx", WriteModel(work, "model.int8.onnx"), CancellationToken.None);

        await service.GetBlobContainerClient("artifacts").GetBlobClient("candidates/cd34/model.int8.onnx").UploadAsync(BinaryData.FromString("not a model"), overwrite: true);
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => store.Fetch(artifact, work.File("device"), CancellationToken.None));
        var tamperedSha = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData("not a model"u8)).ToLowerInvariant();
        Assert.Contains(artifact.Uri, error.Message);
        Assert.Contains(artifact.Sha256, error.Message);
        Assert.Contains(tamperedSha, error.Message);
        Assert.Empty(Directory.GetFiles(work.File("device"), "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_blob_artifact_of_another_container_is_refused_by_name()
    {
        using var work = TestData.NewTemporaryFolder();
        var store = new BlobArtifactStore(new BlobServiceClient("UseDevelopmentStorage=true"));
        var foreign = new Artifact("int8-onnx", "http://127.0.0.1:1/devstoreaccount1/elsewhere/model.onnx", "00", 1);
        var error = await Assert.ThrowsAsync<ArgumentException>(() => store.Fetch(foreign, work.Path, CancellationToken.None));
        Assert.Contains(foreign.Uri, error.Message);
    }
}
