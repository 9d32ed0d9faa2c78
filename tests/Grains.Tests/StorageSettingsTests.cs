using Microsoft.Extensions.Configuration;
using SrMobile.Grains.Storage;

namespace SrMobile.Grains.Tests;

public class StorageSettingsTests
{
    private static StorageSettings Read(params (string Key, string Value)[] values) =>
        StorageSettings.From(new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value))).Build());

    [Fact]
    public void Nothing_set_is_local_storage()
    {
        var settings = Read();
        Assert.Equal(StorageSettings.Local, settings.Kind);
        Assert.False(settings.IsAzure);
    }

    [Fact]
    public void Azure_with_a_connection_string_and_blob_state()
    {
        var settings = Read(("SrMobile:Storage:Kind", "Azure"), ("SrMobile:Storage:ConnectionString", "UseDevelopmentStorage=true"), ("SrMobile:Storage:GrainState", "blob"));
        Assert.True(settings.IsAzure);
        Assert.Equal(StorageSettings.Blob, settings.GrainState);
    }

    [Theory]
    [InlineData("SrMobile:Storage:Kind", "s3", "SrMobile:Storage:Kind is 's3': expected 'local' or 'azure'")]
    [InlineData("SrMobile:Storage:GrainState", "cosmos", "SrMobile:Storage:GrainState is 'cosmos': expected 'table' or 'blob'")]
    public void A_bad_value_names_its_key(string key, string value, string message) =>
        Assert.Equal(message, Assert.Throws<InvalidOperationException>(() => Read((key, value))).Message);

    [Fact]
    public void Azure_without_a_connection_string_names_the_key()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Read(("SrMobile:Storage:Kind", "azure")));
        Assert.StartsWith("SrMobile:Storage:ConnectionString is required when SrMobile:Storage:Kind is 'azure'", error.Message);
    }

    [Fact]
    public void A_malformed_connection_string_names_the_key_not_the_secret()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Read(("SrMobile:Storage:Kind", "azure"), ("SrMobile:Storage:ConnectionString", "AccountKey=s3cret-but-garbled")));
        Assert.StartsWith("SrMobile:Storage:ConnectionString is not a valid Azure Storage connection string", error.Message);
        Assert.DoesNotContain("s3cret", error.Message);
    }
}
