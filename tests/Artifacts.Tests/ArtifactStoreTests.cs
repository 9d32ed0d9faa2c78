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
    [InlineData("../escape.onnx", "has a '..' segment")]
    [InlineData("a/../../escape.onnx", "has a '..' segment")]
    [InlineData("a/./b.onnx", "has a '.' segment")]
    [InlineData("/rooted.onnx", "is rooted")]
    [InlineData("a//b.onnx", "has an empty segment")]
    [InlineData("a/b/", "has an empty segment")]
    [InlineData("a\\..\\b.onnx", "holds a backslash")]
    [InlineData("a\\b.onnx", "holds a backslash")]
    [InlineData("a b.onnx", "has a character outside the allowed set in 'a b.onnx'")]
    [InlineData("a/b\u0001.onnx", "has a character outside the allowed set")]
    [InlineData("a/b%2F.onnx", "has a character outside the allowed set")]
    [InlineData("", "is empty")]
    public async Task A_key_that_is_not_a_safe_relative_name_is_refused_by_name_in_both_stores(string key, string problem)
    {
        using var work = TestData.NewTemporaryFolder();
        var model = WriteModel(work, "m.onnx");
        var local = await Assert.ThrowsAsync<ArgumentException>(() => new LocalArtifactStore(work.File("store")).Put("int8-onnx", key, model, CancellationToken.None));
        Assert.Contains($"artifact key '{key}' {problem}", local.Message);
        Assert.False(Directory.Exists(work.File("store")));
        // Refused before any request: there is no service on the other end of this client.
        var blob = await Assert.ThrowsAsync<ArgumentException>(() => new BlobArtifactStore(new BlobServiceClient("UseDevelopmentStorage=true")).Put("int8-onnx", key, model, CancellationToken.None));
        Assert.Contains($"artifact key '{key}' {problem}", blob.Message);
    }

    [Fact]
    public void Keys_have_length_and_segment_limits_and_the_names_the_trainers_make_pass()
    {
        Assert.Equal("resume/float/0a1b2c3d4e5f6a7b/checkpoints/last.ckpt.e3", ArtifactFiles.CheckKey("resume/float/0a1b2c3d4e5f6a7b/checkpoints/last.ckpt.e3"));
        Assert.Equal("candidates/ab12/model.int8.onnx", ArtifactFiles.CheckKey("candidates/ab12/model.int8.onnx"));
        Assert.Contains("is 1025 characters long; the limit is 1024", Assert.Throws<ArgumentException>(() => ArtifactFiles.CheckKey(new string('a', 1025))).Message);
        Assert.Equal(1024, ArtifactFiles.CheckKey(new string('a', 254) + "/" + string.Join('/', Enumerable.Repeat(new string('a', 255), 3)) + "/b").Length);
        Assert.Contains("has a segment of 256 characters; the limit is 255", Assert.Throws<ArgumentException>(() => ArtifactFiles.CheckKey(new string('a', 256))).Message);
        Assert.Contains("has 255 segments; the limit is 254", Assert.Throws<ArgumentException>(() => ArtifactFiles.CheckKey(string.Join('/', Enumerable.Repeat("a", 255)))).Message);
    }

    [Fact]
    public async Task A_file_uri_outside_the_artifact_root_is_refused_and_never_read()
    {
        using var work = TestData.NewTemporaryFolder();
        var store = new LocalArtifactStore(work.File("store"));
        var inside = await store.Put("int8-onnx", "candidates/ab12/model.int8.onnx", WriteModel(work, "model.int8.onnx"), CancellationToken.None);
        Directory.CreateDirectory(work.File("store-next-door"));
        File.WriteAllBytes(work.File(Path.Combine("store-next-door", "m.onnx")), [1]);
        foreach (var outside in new[] { work.File("model.int8.onnx"), work.File(Path.Combine("store-next-door", "m.onnx")), typeof(object).Assembly.Location })
        {
            // The right hash of the outside file: only the root check can refuse it.
            var forged = inside with { Uri = new Uri(outside).AbsoluteUri, Sha256 = await ArtifactFiles.Sha256(outside, CancellationToken.None) };
            var error = await Assert.ThrowsAsync<ArgumentException>(() => store.Fetch(forged, work.File("fetched"), CancellationToken.None));
            Assert.Contains($"artifact {forged.Uri} (int8-onnx) is outside the artifact root {store.Root}", error.Message);
        }
        // A '..' spelled into the URI is resolved before the check, not after it.
        var climbing = inside with { Uri = "file://" + store.Root + "/candidates/../../model.int8.onnx" };
        Assert.Contains("is outside the artifact root", (await Assert.ThrowsAsync<ArgumentException>(() => store.Fetch(climbing, work.File("fetched"), CancellationToken.None))).Message);
        Assert.Equal(new Uri(inside.Uri).LocalPath, await store.Fetch(inside, work.File("fetched"), CancellationToken.None));
    }

    [Fact]
    public async Task The_blob_store_reads_file_uris_only_under_its_local_root_and_blob_names_only_as_safe_keys()
    {
        using var work = TestData.NewTemporaryFolder();
        var local = await new LocalArtifactStore(work.File("store")).Put("int8-onnx", "candidates/ab12/model.int8.onnx", WriteModel(work, "model.int8.onnx"), CancellationToken.None);
        var client = new BlobServiceClient("UseDevelopmentStorage=true");

        var none = await Assert.ThrowsAsync<ArgumentException>(() => new BlobArtifactStore(client).Fetch(local, work.File("device"), CancellationToken.None));
        Assert.Contains("has no local artifact root (SrMobile:Storage:ArtifactFolder)", none.Message);
        var other = await Assert.ThrowsAsync<ArgumentException>(() => new BlobArtifactStore(client, localRoot: work.File("elsewhere")).Fetch(local, work.File("device"), CancellationToken.None));
        Assert.Contains($"is outside the artifact root {work.File("elsewhere")}", other.Message);
        Assert.Equal(new Uri(local.Uri).LocalPath, await new BlobArtifactStore(client, localRoot: work.File("store")).Fetch(local, work.File("device"), CancellationToken.None));

        // An escaped '..' in a blob URI would become a path above the destination folder.
        var container = client.GetBlobContainerClient(BlobArtifactStore.DefaultContainer).Uri.AbsoluteUri;
        var escaping = new Artifact("int8-onnx", $"{container}/a/%2E%2E/%2E%2E/escape.onnx", "00", 1);
        var error = await Assert.ThrowsAsync<ArgumentException>(() => new BlobArtifactStore(client).Fetch(escaping, work.File("device"), CancellationToken.None));
        Assert.Contains(escaping.Uri, error.Message);
        Assert.Contains("artifact key 'a/../../escape.onnx' has a '..' segment", error.Message);
        Assert.False(File.Exists(work.File("escape.onnx")));
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
