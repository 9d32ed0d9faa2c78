using System.Text.Json;
using SrMobile.Cli.Commands;
using SrMobile.Engine;
using SrMobile.Tests;

namespace SrMobile.Cli.Tests;

public class DeviceCommandTests
{
    [Fact]
    public async Task Tokens_are_created_listed_without_their_secret_and_revoked_on_a_running_silo()
    {
        using var work = TestData.NewTemporaryFolder();
        var gateway = TestData.FreePort();
        using var silo = await SearchClusterCommandTests.StartSilo(work, gateway, ("SrMobile:Roles:0", "coordinator"));
        try
        {
            var cluster = $"127.0.0.1:{gateway}";
            var created = await CliRunner.Run("device", "token", "create", "--key", "pixel-8", "--expires", "30d", "--cluster", cluster, "--json");
            Assert.True(created.ExitCode == 0, created.Error);
            var issued = JsonDocument.Parse(created.Out).RootElement;
            var (id, secret) = (issued.GetProperty("id").GetString()!, issued.GetProperty("secret").GetString()!);
            Assert.StartsWith($"srmd_{id}_", secret, StringComparison.Ordinal);

            var listed = await CliRunner.Run("device", "token", "list", "--cluster", cluster, "--json");
            Assert.True(listed.ExitCode == 0, listed.Error);
            Assert.DoesNotContain(secret, listed.Out, StringComparison.Ordinal);
            var token = Assert.Single(JsonDocument.Parse(listed.Out).RootElement.EnumerateArray());
            Assert.Equal((id, "pixel-8", true), (token.GetProperty("id").GetString(), token.GetProperty("device_key").GetString(), token.GetProperty("live").GetBoolean()));
            var expires = token.GetProperty("expires_utc").GetDateTimeOffset() - token.GetProperty("created_utc").GetDateTimeOffset();
            Assert.Equal(TimeSpan.FromDays(30), expires);

            var revoked = await CliRunner.Run("device", "token", "revoke", id, "--cluster", cluster);
            Assert.True(revoked.ExitCode == 0, revoked.Error);
            Assert.Contains("revoked", (await CliRunner.Run("device", "token", "list", "--cluster", cluster)).Out);
            var unknown = await CliRunner.Run("device", "token", "revoke", "nope", "--cluster", cluster);
            Assert.NotEqual(0, unknown.ExitCode);
            Assert.Contains("no device token with id 'nope'", unknown.Error);
        }
        finally
        {
            await silo.StopAsync();
        }
    }

    [Theory]
    [InlineData("30d", 30 * 24 * 60)]
    [InlineData("12h", 12 * 60)]
    [InlineData("90m", 90)]
    public void Lifetimes_are_days_hours_or_minutes(string text, int minutes) =>
        Assert.Equal(TimeSpan.FromMinutes(minutes), DeviceCommand.Lifetime(text));

    [Theory]
    [InlineData("")]
    [InlineData("30")]
    [InlineData("0d")]
    [InlineData("-1h")]
    [InlineData("2w")]
    public void A_lifetime_that_is_none_of_those_is_refused_naming_the_value(string text) =>
        Assert.Contains($"not '{text}'", Assert.Throws<BadInputException>(() => DeviceCommand.Lifetime(text)).Message);
}
