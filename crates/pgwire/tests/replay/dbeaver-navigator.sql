-- DBeaver's navigator on a PostgreSQL connection: what it sends when the user connects (driver
-- set-up, context defaults, server version, data types), expands the database's schemas, a
-- schema's tables and views, a table's and a view's columns (with their comments), and opens a
-- view's source. From plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/
-- postgresql/ (dbeaver/dbeaver, commit 2428359, 24.2.3-21, product 24.2.4-SNAPSHOT):
-- model/PostgreDataSource.java, model/PostgreExecutionContext.java, model/PostgreDatabase.java,
-- model/PostgreDataTypeCache.java, model/PostgreSchema.java, model/PostgreTableReal.java,
-- model/PostgreViewBase.java and PostgreUtils.java, with the server type of
-- model/impls/PostgreServerPostgreSQL.java and PostgreServerExtensionBase.java, and the PostgreSQL
-- JDBC driver DBeaver bundles (pgjdbc/pgjdbc REL42.7.2, commit 06abfb7). Written as DBeaver builds
-- them for a server of version 12 or newer with its default settings (only the connected
-- database, no "show system objects", no "read all data types", a separate metadata connection),
-- for the database zicht, the schemas basis and drugs, the table basis.persoon and the view
-- drugs.verdachten_inwoners. pgjdbc binds DBeaver's parameters: names are written here as
-- literals, object ids (bound with setLong, so int8) as '<name>'::regclass/regnamespace::oid::int8
-- of the object, as oids differ between servers. The SETs, current_schema() and SHOW search_path
-- run on the main and again on the metadata connection; here once. Checked against PostgreSQL
-- 15.18 with tables and views of the same shape and comments.

-- Connect: pgjdbc's start-up queries, as it is not told the server version in advance
-- (pgjdbc core/v3/ConnectionFactoryImpl.java, runInitialQueries).
SET extra_float_digits = 3;
SET application_name = 'PostgreSQL JDBC Driver';
-- Connect: DBeaver names the connection, setClientInfo("ApplicationName", ...) which pgjdbc sends
-- as SET (PostgreDataSource.java, openConnection; the name from DBUtils.getClientApplicationName).
SET application_name = 'DBeaver 24.2.4 - Main <zicht>';
-- Connect: the context's default schema and user (PostgreExecutionContext.java, refreshDefaults).
SELECT current_schema(),session_user;
-- Connect, and expand the database's Schemas: the schema list, cached for the navigator
-- (PostgreDatabase.java, SchemaCache.prepareLookupStatement; no schema filter configured).
SELECT n.oid,n.*,d.description FROM pg_catalog.pg_namespace n
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=n.oid AND d.objsubid=0 AND d.classoid='pg_namespace'::regclass
 ORDER BY nspname;
-- Connect: the search path (PostgreExecutionContext.java, refreshDefaults).
SHOW search_path;
-- Connect: the database's properties (PostgreDatabase.java, readDatabaseInfo; ? = 'zicht').
SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE datname='zicht';
-- Connect: preloaded setting (PostgreDataSource.java, initializeRemoteInstance and SettingCache;
-- ? = 'standard_conforming_strings').
select * from pg_catalog.pg_settings where name='standard_conforming_strings';
-- Connect: the SQL dialect asks the driver for its keywords, which pgjdbc reads from the server
-- (JDBCSQLDialect.java loadDriverKeywords; pgjdbc jdbc/PgDatabaseMetaData.java, getSQLKeywords).
select string_agg(word, ',') from pg_catalog.pg_get_keywords() where word <> ALL ('{a,abs,absolute,action,ada,add,admin,after,all,allocate,alter,always,and,any,are,array,as,asc,asensitive,assertion,assignment,asymmetric,at,atomic,attribute,attributes,authorization,avg,before,begin,bernoulli,between,bigint,binary,blob,boolean,both,breadth,by,c,call,called,cardinality,cascade,cascaded,case,cast,catalog,catalog_name,ceil,ceiling,chain,char,char_length,character,character_length,character_set_catalog,character_set_name,character_set_schema,characteristics,characters,check,checked,class_origin,clob,close,coalesce,cobol,code_units,collate,collation,collation_catalog,collation_name,collation_schema,collect,column,column_name,command_function,command_function_code,commit,committed,condition,condition_number,connect,connection_name,constraint,constraint_catalog,constraint_name,constraint_schema,constraints,constructors,contains,continue,convert,corr,corresponding,count,covar_pop,covar_samp,create,cross,cube,cume_dist,current,current_collation,current_date,current_default_transform_group,current_path,current_role,current_time,current_timestamp,current_transform_group_for_type,current_user,cursor,cursor_name,cycle,data,date,datetime_interval_code,datetime_interval_precision,day,deallocate,dec,decimal,declare,default,defaults,deferrable,deferred,defined,definer,degree,delete,dense_rank,depth,deref,derived,desc,describe,descriptor,deterministic,diagnostics,disconnect,dispatch,distinct,domain,double,drop,dynamic,dynamic_function,dynamic_function_code,each,element,else,end,end-exec,equals,escape,every,except,exception,exclude,excluding,exec,execute,exists,exp,external,extract,false,fetch,filter,final,first,float,floor,following,for,foreign,fortran,found,free,from,full,function,fusion,g,general,get,global,go,goto,grant,granted,group,grouping,having,hierarchy,hold,hour,identity,immediate,implementation,in,including,increment,indicator,initially,inner,inout,input,insensitive,insert,instance,instantiable,int,integer,intersect,intersection,interval,into,invoker,is,isolation,join,k,key,key_member,key_type,language,large,last,lateral,leading,left,length,level,like,ln,local,localtime,localtimestamp,locator,lower,m,map,match,matched,max,maxvalue,member,merge,message_length,message_octet_length,message_text,method,min,minute,minvalue,mod,modifies,module,month,more,multiset,mumps,name,names,national,natural,nchar,nclob,nesting,new,next,no,none,normalize,normalized,not,"null",nullable,nullif,nulls,number,numeric,object,octet_length,octets,of,old,on,only,open,option,options,or,order,ordering,ordinality,others,out,outer,output,over,overlaps,overlay,overriding,pad,parameter,parameter_mode,parameter_name,parameter_ordinal_position,parameter_specific_catalog,parameter_specific_name,parameter_specific_schema,partial,partition,pascal,path,percent_rank,percentile_cont,percentile_disc,placing,pli,position,power,preceding,precision,prepare,preserve,primary,prior,privileges,procedure,public,range,rank,read,reads,real,recursive,ref,references,referencing,regr_avgx,regr_avgy,regr_count,regr_intercept,regr_r2,regr_slope,regr_sxx,regr_sxy,regr_syy,relative,release,repeatable,restart,result,return,returned_cardinality,returned_length,returned_octet_length,returned_sqlstate,returns,revoke,right,role,rollback,rollup,routine,routine_catalog,routine_name,routine_schema,row,row_count,row_number,rows,savepoint,scale,schema,schema_name,scope_catalog,scope_name,scope_schema,scroll,search,second,section,security,select,self,sensitive,sequence,serializable,server_name,session,session_user,set,sets,similar,simple,size,smallint,some,source,space,specific,specific_name,specifictype,sql,sqlexception,sqlstate,sqlwarning,sqrt,start,state,statement,static,stddev_pop,stddev_samp,structure,style,subclass_origin,submultiset,substring,sum,symmetric,system,system_user,table,table_name,tablesample,temporary,then,ties,time,timestamp,timezone_hour,timezone_minute,to,top_level_count,trailing,transaction,transaction_active,transactions_committed,transactions_rolled_back,transform,transforms,translate,translation,treat,trigger,trigger_catalog,trigger_name,trigger_schema,trim,true,type,uescape,unbounded,uncommitted,under,union,unique,unknown,unnamed,unnest,update,upper,usage,user,user_defined_type_catalog,user_defined_type_code,user_defined_type_name,user_defined_type_schema,using,value,values,var_pop,var_samp,varchar,varying,view,when,whenever,where,width_bucket,window,with,within,without,work,write,year,zone}'::text[]);
-- Connect: the server version (PostgreDataSource.java, initialize).
SELECT version();
-- Connect: whether pg_enum and pg_class.reltype exist (PostgreDataSource.java, initialize, with
-- PostgreUtils.java getQueryForSystemColumnChecking).
SELECT * FROM pg_catalog.pg_enum WHERE 1<>1 LIMIT 1;
SELECT reltype FROM pg_catalog.pg_class WHERE 1<>1 LIMIT 1;
-- Connect: the data types (PostgreDatabase.java, cacheDataTypes, with
-- PostgreDataTypeCache.getBaseTypeNameClause).
SELECT t.oid,t.*,c.relkind,format_type(nullif(t.typbasetype, 0), t.typtypmod) as base_type_name, d.description
FROM pg_catalog.pg_type t
LEFT OUTER JOIN pg_catalog.pg_type et ON et.oid=t.typelem 
LEFT OUTER JOIN pg_catalog.pg_class c ON c.oid=t.typrelid
LEFT OUTER JOIN pg_catalog.pg_description d ON t.oid=d.objoid
WHERE t.typname IS NOT NULL
AND (c.relkind IS NULL OR c.relkind = 'c') AND (et.typcategory IS NULL OR et.typcategory <> 'C');
-- Connect: the enum values (PostgreDatabase.java, EnumValueCache).
SELECT * FROM pg_catalog.pg_enum;
-- Select the database: its Description property (PostgreDatabase.java, getDescription;
-- ? = 'zicht').
select description from pg_shdescription join pg_database on objoid = pg_database.oid where datname = 'zicht';
-- Expand schema basis, then Tables (and Views, from the same cache): its relations with their
-- comments (PostgreSchema.java, TableCache.prepareLookupStatement; ? = oid of basis).
SELECT c.oid,c.*,d.description,pg_catalog.pg_get_expr(c.relpartbound, c.oid) as partition_expr,  pg_catalog.pg_get_partkeydef(c.oid) as partition_key 
FROM pg_catalog.pg_class c
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_class'::regclass
WHERE c.relnamespace='basis'::regnamespace::oid::int8 AND c.relkind not in ('i','I','c');
-- Expand schema drugs, then Tables and Views (the same; ? = oid of drugs).
SELECT c.oid,c.*,d.description,pg_catalog.pg_get_expr(c.relpartbound, c.oid) as partition_expr,  pg_catalog.pg_get_partkeydef(c.oid) as partition_key 
FROM pg_catalog.pg_class c
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_class'::regclass
WHERE c.relnamespace='drugs'::regnamespace::oid::int8 AND c.relkind not in ('i','I','c');
-- Expand table basis.persoon, then Columns: its columns with defaults and comments
-- (PostgreSchema.java, TableCache.prepareChildrenStatement, the server type supporting sequences;
-- ? = oid of basis.persoon).
SELECT c.relname,a.*,pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) as def_value,dsc.description,dep.objid
FROM pg_catalog.pg_attribute a
INNER JOIN pg_catalog.pg_class c ON (a.attrelid=c.oid)
LEFT OUTER JOIN pg_catalog.pg_attrdef ad ON (a.attrelid=ad.adrelid AND a.attnum = ad.adnum)
LEFT OUTER JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)
LEFT OUTER JOIN pg_depend dep on dep.refobjid = a.attrelid AND dep.deptype = 'i' and dep.refobjsubid = a.attnum and dep.classid = dep.refclassid
WHERE NOT a.attisdropped AND c.relkind not in ('i','I','c') AND c.oid='basis.persoon'::regclass::oid::int8
ORDER BY a.attnum;
-- Expand view drugs.verdachten_inwoners, then Columns (the same; ? = oid of the view).
SELECT c.relname,a.*,pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) as def_value,dsc.description,dep.objid
FROM pg_catalog.pg_attribute a
INNER JOIN pg_catalog.pg_class c ON (a.attrelid=c.oid)
LEFT OUTER JOIN pg_catalog.pg_attrdef ad ON (a.attrelid=ad.adrelid AND a.attnum = ad.adnum)
LEFT OUTER JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)
LEFT OUTER JOIN pg_depend dep on dep.refobjid = a.attrelid AND dep.deptype = 'i' and dep.refobjsubid = a.attnum and dep.classid = dep.refclassid
WHERE NOT a.attisdropped AND c.relkind not in ('i','I','c') AND c.oid='drugs.verdachten_inwoners'::regclass::oid::int8
ORDER BY a.attnum;
-- Open view drugs.verdachten_inwoners, tab Source: its definition (PostgreViewBase.java,
-- fetchViewQueryResultIfItNull; DBeaver writes the oid into the text, here the regclass of it).
SELECT pg_get_viewdef('drugs.verdachten_inwoners'::regclass::oid, true);
-- Open view drugs.verdachten_inwoners, tab Source: the view's triggers, for its DDL
-- (PostgreViewBase.java getObjectDefinitionText, PostgreTableReal.java TriggerCache;
-- ? = the view's oid).
SELECT x.oid,x.*,p.pronamespace as func_schema_id,d.description
FROM pg_catalog.pg_trigger x
LEFT OUTER JOIN pg_catalog.pg_proc p ON p.oid=x.tgfoid 
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=x.oid AND d.objsubid=0 
WHERE x.tgrelid = 'drugs.verdachten_inwoners'::regclass::oid::int8 AND NOT x.tgisinternal;
