namespace Grid.TestSupport;

/// <summary>
/// xunit class/collection fixture owning one <see cref="AzuriteServer"/> (own ports, own temp data folder).
/// Use it as <c>IClassFixture&lt;AzuriteFixture&gt;</c> in any test project that references Grid.TestSupport.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    private AzuriteServer? _server;

    /// <summary>The running server (stop/start it to simulate an outage).</summary>
    public AzuriteServer Server => _server ?? throw new InvalidOperationException("Azurite has not been started yet.");

    /// <summary>Connection string for the development account on this server's ports.</summary>
    public string ConnectionString => Server.ConnectionString;

    /// <inheritdoc />
    public async ValueTask InitializeAsync() => _server = await AzuriteServer.StartNewAsync();

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
