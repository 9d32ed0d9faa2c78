using System.Net;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using SrMobile.Cluster;
using SrMobile.Contracts;
using SrMobile.Contracts.Telemetry;
using SrMobile.Dashboard;
using SrMobile.Grains.Placement;
using SrMobile.Query;

namespace SrMobile.Hosting.Web;

/// <summary>
/// The web host of every silo process: Kestrel on <see cref="HttpOptions"/> (127.0.0.1:8080 by default), health
/// (<c>/healthz/live</c>, <c>/healthz/ready</c>) and Prometheus metrics (<c>/metrics</c>: the SrMobile meter, Orleans',
/// the .NET runtime's and the process's) on every role; on a coordinator also the HTTP API (<see cref="ApiEndpoints"/>)
/// and its OpenAPI document (<c>/openapi/v1.json</c>), and the dashboard (<see cref="DashboardExtensions"/>).
/// </summary>
public static class WebHostingExtensions
{
    public static WebApplicationBuilder AddSrMobileWeb(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var http = configuration.GetSection(HttpOptions.Section).Get<HttpOptions>() ?? new HttpOptions();
        if (!IPAddress.TryParse(http.Address, out var address))
            throw new InvalidOperationException($"{HttpOptions.Section}:Address is '{http.Address}': expected an IP address (127.0.0.1 by default; 0.0.0.0 for every interface)");
        if (http.Port is < 0 or > 65535)
            throw new InvalidOperationException($"{HttpOptions.Section}:Port is {http.Port}: expected 0 (any free port) to 65535");
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(address, http.Port));
        builder.Services.Configure<AuthOptions>(configuration.GetSection(AuthOptions.Section));
        builder.Services.AddSingleton<ApiKeys>();
        builder.Services.AddSingleton(services => new SearchService(services.GetRequiredService<IGrainFactory>()));
        builder.Services.ConfigureHttpJsonOptions(o => SearchJson.Configure(o.SerializerOptions));
        builder.Services.AddOpenApi();
        builder.Services.AddHealthChecks().AddCheck<ClusterReadiness>("cluster", tags: [ReadyTag]);
        if (ClusterHostingExtensions.Roles(configuration).Contains(SiloRoles.Coordinator))
            builder.AddSrMobileDashboard();

        var identity = MetricsOptions.From(configuration);
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(identity.ServiceName, serviceInstanceId: identity.Instance))
            .WithMetrics(metrics => metrics
                .AddMeter(SrMobileMetrics.MeterName, "Microsoft.Orleans")
                .AddRuntimeInstrumentation()
                .AddProcessInstrumentation()
                .AddPrometheusExporter());
        return builder;
    }

    public static WebApplication MapSrMobileWeb(this WebApplication app)
    {
        // Liveness is the process answering; readiness is the cluster answering it.
        app.MapHealthChecks("/healthz/live", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/healthz/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadyTag) });
        app.MapPrometheusScrapingEndpoint();
        if (ClusterHostingExtensions.Roles(app.Configuration).Contains(SiloRoles.Coordinator))
        {
            app.MapOpenApi();
            app.MapSrMobileApi();
            app.MapSrMobileDashboard();
        }
        return app;
    }

    private const string ReadyTag = "ready";

    /// <summary>Ready once the host has started and a coordinator's grain (the search index) answers within 5 s.</summary>
    private sealed class ClusterReadiness(IGrainFactory grains, IHostApplicationLifetime lifetime) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            if (!lifetime.ApplicationStarted.IsCancellationRequested)
                return HealthCheckResult.Unhealthy("the silo is starting");
            try
            {
                await grains.GetGrain<ISearchIndexGrain>(ISearchIndexGrain.Key).List().WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
                return HealthCheckResult.Healthy();
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                return HealthCheckResult.Unhealthy($"no coordinator answers: {e.Message}");
            }
        }
    }
}
