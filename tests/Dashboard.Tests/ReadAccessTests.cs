using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using SrMobile.Query;

namespace SrMobile.Dashboard.Tests;

public class ReadAccessTests
{
    private static HttpContext Request(string address, bool signedIn = false)
    {
        var http = new DefaultHttpContext();
        http.Connection.RemoteIpAddress = IPAddress.Parse(address);
        if (signedIn)
            http.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "api-key")], "Cookies"));
        return http;
    }

    [Theory]
    [InlineData(ReadAccess.Loopback, "127.0.0.1", false, true)]
    [InlineData(ReadAccess.Loopback, "::1", false, true)]
    [InlineData(ReadAccess.Loopback, "10.1.2.3", false, false)]
    [InlineData(ReadAccess.Loopback, "10.1.2.3", true, true)]
    [InlineData(ReadAccess.Anyone, "10.1.2.3", false, true)]
    [InlineData(ReadAccess.Key, "127.0.0.1", false, false)]
    [InlineData(ReadAccess.Key, "127.0.0.1", true, true)]
    public void Reading_the_dashboard_follows_the_configured_access(ReadAccess access, string from, bool signedIn, bool mayRead) =>
        Assert.Equal(mayRead, DashboardExtensions.MayRead(Request(from, signedIn), new AuthOptions { Read = access }));
}
