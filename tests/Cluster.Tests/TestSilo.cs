using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using SrMobile.Tests;

namespace SrMobile.Cluster.Tests;

/// <summary>Silos and clients of src/Cluster on 127.0.0.1, configured as a deployment configures them: by keys.</summary>
internal static class TestSilo
{
    /// <summary>A coordinator silo of the azure kind on <paramref name="azurite"/>, with these settings on top.</summary>
    public static IHost Build(Azurite azurite, string clusterId, string folder, IDictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["SrMobile:Roles:0"] = "coordinator",
            ["SrMobile:Storage:Kind"] = "azure",
            ["SrMobile:Storage:ConnectionString"] = azurite.ConnectionString,
            ["SrMobile:ClusterId"] = clusterId,
            ["SrMobile:ServiceId"] = clusterId,
            ["SrMobile:SiloPort"] = TestData.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["SrMobile:GatewayPort"] = TestData.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["SrMobile:DataFolder"] = Path.Combine(folder, $"state-{Guid.NewGuid():N}"),
        });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.AddFilter("Orleans", LogLevel.Warning).AddFilter("Microsoft", LogLevel.Warning);
        builder.AddSrMobileCluster();
        return builder.Build();
    }

    /// <summary>A client of <paramref name="gateway"/> with <c>SrMobile:Tls</c> from <paramref name="settings"/>, not started.</summary>
    public static IHost Client(string clusterId, int gateway, IDictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.UseOrleansClient(client => client
            .UseStaticClustering(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, gateway))
            .Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (clusterId, clusterId))
            .UseSrMobileTls(builder.Configuration));
        return builder.Build();
    }

    public static int GatewayPort(IHost silo) => silo.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<EndpointOptions>>().Value.GatewayPort;
}
