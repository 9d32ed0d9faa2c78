using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using SrMobile.Hosting;
using SrMobile.Contracts;
using SrMobile.Grains.Storage;
using SrMobile.Tests;

namespace SrMobile.Silo.Tests;

/// <summary>The silo host's own configuration path (<see cref="SiloHostingExtensions.AddSrMobileSilo"/>), not TestingHost's.</summary>
public class SiloHostingTests
{
    private static HostApplicationBuilder Silo(params (string Key, string Value)[] settings)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(settings.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value)));
        return builder;
    }

    [Theory]
    [InlineData("SrMobile:Storage:Kind", "cloud", "SrMobile:Storage:Kind is 'cloud'")]
    [InlineData("SrMobile:Storage:Kind", "azure", "SrMobile:Storage:ConnectionString is required")]
    public void A_bad_storage_setting_stops_the_silo_naming_the_key(string key, string value, string message) =>
        Assert.StartsWith(message, Assert.Throws<InvalidOperationException>(() => Silo((key, value)).AddSrMobileSilo()).Message);

    [Fact]
    public async Task An_azure_kind_silo_registers_in_table_membership_and_a_client_finds_it_there()
    {
        using var work = TestData.NewTemporaryFolder();
        await using var azurite = await Azurite.StartNew();
        var builder = Silo(
            ("SrMobile:Roles:0", "coordinator"),
            ("SrMobile:DataFolder", work.File("state")),
            ("SrMobile:SiloPort", TestData.FreePort().ToString()),
            ("SrMobile:GatewayPort", TestData.FreePort().ToString()),
            ("SrMobile:ServiceId", "hosting-test"),
            ("SrMobile:Storage:Kind", "azure"),
            ("SrMobile:Storage:ConnectionString", azurite.ConnectionString));
        builder.AddSrMobileSilo();
        using var silo = builder.Build();
        await silo.StartAsync();
        try
        {
            var clientBuilder = Host.CreateApplicationBuilder();
            clientBuilder.Logging.ClearProviders();
            var storage = StorageSettings.From(builder.Configuration);
            clientBuilder.UseOrleansClient(client =>
            {
                client.UseSrMobileAzureClustering(storage);
                client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = ("srmobile", "hosting-test"));
            });
            using var clientHost = clientBuilder.Build();
            await clientHost.StartAsync();
            var grains = clientHost.Services.GetRequiredService<IClusterClient>();
            var submitted = await grains.GetGrain<ISearchGrain>("hosted").Submit("""
                name: hosted
                scales: [2]
                depths: [1]
                widths: [4]
                quantization: [{kind: ptq}]
                datasets: {train: t}
                devices: [local]
                """);
            Assert.True(submitted.Created, string.Join("; ", submitted.Errors));
            Assert.Equal(1, (await grains.GetGrain<ISearchGrain>("hosted").Status()).Stages[CandidateStage.Queued]);
            await clientHost.StopAsync();
        }
        finally
        {
            await silo.StopAsync();
        }
    }

    [Fact]
    public async Task The_candidate_limit_and_the_data_roots_come_from_configuration_and_a_refused_spec_stores_nothing()
    {
        using var work = TestData.NewTemporaryFolder();
        var builder = Silo(
            ("SrMobile:Roles:0", "coordinator"),
            ("SrMobile:DataFolder", work.File("state")),
            ("SrMobile:SiloPort", TestData.FreePort().ToString()),
            ("SrMobile:GatewayPort", TestData.FreePort().ToString()),
            ("SrMobile:ServiceId", "limits-test"),
            ("SrMobile:Limits:MaxCandidates", "2"),
            ("SrMobile:DataRoots:0", work.File("data")),
            ("SrMobile:DataRoots:1", work.File("more")));
        builder.AddSrMobileSilo();
        using var silo = builder.Build();
        await silo.StartAsync();
        try
        {
            var grains = silo.Services.GetRequiredService<IGrainFactory>();
            string Spec(string name, string scales, string train) => $$"""
                name: {{name}}
                scales: {{scales}}
                depths: [1]
                widths: [4]
                quantization: [{kind: ptq}]
                datasets: {train: "{{train}}"}
                devices: [local]
                """;

            var tooBig = await grains.GetGrain<ISearchGrain>("too-big").Submit(Spec("too-big", "[2, 3, 4]", work.File("data")));
            Assert.Equal("(grid)", Assert.Single(tooBig.Errors).Field);
            Assert.Contains("= 3 candidates; the limit is 2", tooBig.Errors[0].Message);

            var outside = await grains.GetGrain<ISearchGrain>("outside").Submit(Spec("outside", "[3]", work.File("elsewhere")));
            var error = Assert.Single(outside.Errors);
            Assert.Equal("datasets.train", error.Field);
            Assert.Contains($"outside every data root ({work.File("data")}, {work.File("more")})", error.Message);

            foreach (var name in new[] { "too-big", "outside" })
            {
                var status = await grains.GetGrain<ISearchGrain>(name).Status();
                Assert.False(status.Submitted);
                Assert.Equal(0, status.Candidates);
            }
            Assert.Equal(0, (await grains.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool).Summary()).Queued);

            var inside = await grains.GetGrain<ISearchGrain>("inside").Submit(Spec("inside", "[2, 3]", Path.Combine(work.File("more"), "photos")));
            Assert.True(inside.Created, string.Join("; ", inside.Errors));
        }
        finally
        {
            await silo.StopAsync();
        }
    }
}
