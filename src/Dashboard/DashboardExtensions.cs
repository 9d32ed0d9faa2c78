using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using SrMobile.Dashboard.Components;
using SrMobile.Query;

namespace SrMobile.Dashboard;

/// <summary>
/// The dashboard on a web host that has a grain client (<see cref="IGrainFactory"/>): Razor components rendered on the
/// server, live through <see cref="ClusterChanges"/>. Reads follow <see cref="AuthOptions.Read"/> (a page asks for
/// sign-in where reading needs a key); writes (submit, cancel) need a sign-in with one of <see cref="AuthOptions.ApiKeys"/>,
/// kept in a cookie.
/// </summary>
public static class DashboardExtensions
{
    public const string LoginPath = "/login";

    /// <summary>Where the sign-in form posts (the page's own path answers with the page: Razor pages take POSTs too).</summary>
    public const string SignInPath = "/signin";

    public static WebApplicationBuilder AddSrMobileDashboard(this WebApplicationBuilder builder)
    {
        // The build output serves the packages' assets (Plotly's script, ours) from where the build left them;
        // a published app has them in wwwroot, and this is then a no-op.
        builder.WebHost.UseStaticWebAssets();
        var services = builder.Services;
        services.AddRazorComponents().AddInteractiveServerComponents();
        services.AddCascadingAuthenticationState();
        services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(o =>
            {
                o.LoginPath = LoginPath;
                o.Cookie.Name = "srmobile-dashboard";
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Strict;
                o.ExpireTimeSpan = TimeSpan.FromHours(12);
            });
        services.AddAuthorization();
        services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.Section);
        services.TryAddSingleton(s => new SearchService(s.GetRequiredService<IGrainFactory>()));
        services.TryAddSingleton<ClusterChanges>();
        return builder;
    }

    public static WebApplication MapSrMobileDashboard(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();
        app.Use(ReadGate);
        app.MapStaticAssets();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        app.MapPost(SignInPath, SignIn);
        app.MapPost("/logout", async (HttpContext http) =>
        {
            await http.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return Results.LocalRedirect("/");
        });
        return app;
    }

    /// <summary>Whether this request may read without signing in (see <see cref="ReadAccess"/>).</summary>
    public static bool MayRead(HttpContext http, AuthOptions options) =>
        http.User.Identity?.IsAuthenticated == true
        || options.Read == ReadAccess.Anyone
        || (options.Read == ReadAccess.Loopback && http.Connection.RemoteIpAddress is { } address && IPAddress.IsLoopback(address));

    /// <summary>Pages (and the circuit's hub) of a reader who may not read yet go to the sign-in; the API has its own gate.</summary>
    private static Task ReadGate(HttpContext http, RequestDelegate next)
    {
        var path = http.Request.Path;
        var free = path.StartsWithSegments("/api") || path.StartsWithSegments("/metrics") || path.StartsWithSegments("/healthz")
            || path.StartsWithSegments("/openapi") || path.StartsWithSegments(LoginPath) || path.StartsWithSegments(SignInPath) || path.StartsWithSegments("/_content")
            || path.StartsWithSegments("/_framework") || Path.HasExtension(path.Value);
        if (free || MayRead(http, http.RequestServices.GetRequiredService<IOptions<AuthOptions>>().Value))
            return next(http);
        http.Response.Redirect($"{LoginPath}?returnUrl={Uri.EscapeDataString(path + http.Request.QueryString)}");
        return Task.CompletedTask;
    }

    private static async Task<IResult> SignIn(HttpContext http, IOptions<AuthOptions> options)
    {
        var form = await http.Request.ReadFormAsync();
        var key = form["key"].ToString();
        var returnUrl = form["returnUrl"].ToString();
        var local = returnUrl.StartsWith('/') && !returnUrl.StartsWith("//", StringComparison.Ordinal) ? returnUrl : "/";
        var ring = new KeyRing(options.Value);
        if (key.Length == 0 || ring.IsEmpty || !ring.Holds(key))
        {
            var why = ring.IsEmpty ? "none-configured" : key.Length == 0 ? "missing" : "wrong";
            return Results.LocalRedirect($"{LoginPath}?error={why}&returnUrl={Uri.EscapeDataString(local)}");
        }
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, "api-key")], CookieAuthenticationDefaults.AuthenticationScheme);
        await http.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, new ClaimsPrincipal(identity));
        return Results.LocalRedirect(local);
    }
}
