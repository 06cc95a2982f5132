import java.lang.reflect.Field;
import java.util.Arrays;

import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * DynamoDB Local listening on one address only. Its command line has no such option (its Jetty
 * server binds every interface), so this builds the server from the same arguments, sets the
 * address on its connectors and starts it. Run by chalicelib/local/ddblocal.py in Java's
 * source-file mode:
 *   java -cp DynamoDBLocal.jar:DynamoDBLocal_lib/* LoopbackDynamoDBLocal.java 127.0.0.1 -port 8001 ...
 */
public class LoopbackDynamoDBLocal {
    public static void main(String[] args) throws Exception {
        String host = args[0];
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(Arrays.copyOfRange(args, 1, args.length));
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server server = (Server) field.get(proxy);
        for (Connector connector : server.getConnectors()) {
            ((ServerConnector) connector).setHost(host);
        }
        proxy.start();
        server.join();
    }
}
