namespace Grid.Hosting.Configuration;

/// <summary>A Grid host was configured with settings that cannot work; the message names each one and the fix.</summary>
public sealed class GridConfigurationException(string message) : Exception(message);
