namespace Grid.Hosting.Configuration;

/// <summary>How silos find each other.</summary>
public enum ClusterMode
{
    /// <summary>Development clustering on loopback: one process, or secondary silos that join a primary silo.</summary>
    Localhost,

    /// <summary>Azure Table membership (Azurite on a developer machine); any number of machines.</summary>
    Azure,
}
